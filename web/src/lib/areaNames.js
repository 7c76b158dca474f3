// Names of areas by code, looked up once per code from /api/v1/areas/{code}.
import { reactive } from 'vue';

import { api } from './api.js';

const names = reactive(new Map());
const pending = new Set();

// Returns the area's name, or its code until the name has loaded or when the
// lookup failed.
export function areaName(code) {
  if (!code) {
    return '';
  }
  if (names.has(code)) {
    return names.get(code);
  }
  if (!pending.has(code)) {
    pending.add(code);
    api
      .area(code)
      .then((area) => names.set(code, area.name))
      .catch(() => names.set(code, code))
      .finally(() => pending.delete(code));
  }
  return code;
}
