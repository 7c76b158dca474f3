// Dashboard text in zh-CN (the default) and English, with a language switch
// that is remembered in localStorage.
import { ref } from 'vue';

import en from './en.js';
import zhCN from './zh-CN.js';

export const messages = { 'zh-CN': zhCN, en };

const STORAGE_KEY = 'oversight.locale';

function initialLocale() {
  try {
    const saved = window.localStorage.getItem(STORAGE_KEY);
    if (saved && saved in messages) {
      return saved;
    }
  } catch {
    // Storage can be disabled by the browser; the default language still works.
  }
  return 'zh-CN';
}

export const locale = ref(initialLocale());
document.documentElement.lang = locale.value;

export function setLocale(next) {
  if (!(next in messages)) {
    throw new Error(`unknown locale ${next}: expected one of ${Object.keys(messages).join(', ')}`);
  }
  locale.value = next;
  document.documentElement.lang = next;
  try {
    window.localStorage.setItem(STORAGE_KEY, next);
  } catch {
    // See initialLocale.
  }
}

function lookup(table, key) {
  let node = table;
  for (const part of key.split('.')) {
    if (node == null || typeof node !== 'object') {
      return undefined;
    }
    node = node[part];
  }
  return typeof node === 'string' ? node : undefined;
}

// Translates `key` into the current language, replacing `{name}` with params.name.
// A key missing from the table is returned as is, so a gap shows up on screen.
export function t(key, params) {
  const text = lookup(messages[locale.value], key) ?? key;
  if (!params) {
    return text;
  }
  return text.replace(/\{(\w+)\}/g, (match, name) => (name in params ? String(params[name]) : match));
}

// Returns the translation of `key`, or undefined when the table has none,
// for lookups by data such as factor codes, where most codes have no name.
export function tryT(key) {
  return lookup(messages[locale.value], key);
}
