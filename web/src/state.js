// State shared by the overview's panels: the area filter, the points in it
// and what the chart shows.
import { reactive } from 'vue';

import { api, fetchAll } from './lib/api.js';

// Points beyond this many are not loaded into the point selector and the
// limits lookup. NOTE: an area with more points needs a search box instead.
export const MAX_POINTS = 2000;

export const points = reactive({
  area: undefined,
  items: [],
  byMn: new Map(),
  truncated: false,
  loading: false,
  error: null,
});

// Loads every point of `area` (all areas when null), up to MAX_POINTS.
export async function loadPoints(area) {
  points.loading = true;
  try {
    const { items, truncated } = await fetchAll(
      (cursor) => api.points({ area, limit: 500, cursor }),
      MAX_POINTS,
    );
    points.area = area;
    points.items = items;
    points.byMn = new Map(items.map((point) => [point.mn, point]));
    points.truncated = truncated;
    points.error = null;
  } catch (error) {
    points.error = error.message;
  } finally {
    points.loading = false;
  }
}

// Returns the limit a point has for `factor`, or undefined.
export function limitOf(mn, factor) {
  return points.byMn.get(mn)?.limits?.find((limit) => limit.factor === factor);
}

// The chart's selection: point, factor, data kind and range. `alert` is the
// alert clicked last, whose period the chart shades, or null. The range is a
// key of RANGES, or ALERT_RANGE for the alert's own period.
export const selection = reactive({
  mn: null,
  factor: null,
  kind: null,
  range: '1h',
  alert: null,
  // Incremented on every explicit choice so the chart panel can scroll into view.
  focus: 0,
});

// The logged-in account and its principal (role, department, scope), as
// GET /api/v1/auth/me returns them; both null before the first check.
export const session = reactive({ user: null, principal: null });

// Returns true if the logged-in account administers notifications: the
// roles that GET /api/v1/notifications accepts.
export function managesNotifications() {
  return ['system_admin', 'department_admin'].includes(session.principal?.role);
}

// Whether the latest counter refresh reached the server, shown in the top bar.
export const connection = reactive({ ok: null, message: null, at: null });

export const RANGES = { '1h': 3600, '6h': 6 * 3600, '24h': 24 * 3600 };
export const ALERT_RANGE = 'alert';

// Time shown before and after an alert's period when the chart shows that period.
const ALERT_MARGIN_MS = 30 * 60 * 1000;

// Returns the time window `[from, to]` in milliseconds that the chart shows
// for `range`, ending now for the relative ranges.
export function rangeWindow(range, alert, now = Date.now()) {
  if (range === ALERT_RANGE && alert) {
    const start = new Date(alert.first_at).getTime();
    const end = new Date(alert.resolved_at ?? alert.last_at).getTime();
    return [start - ALERT_MARGIN_MS, Math.min(now, end + ALERT_MARGIN_MS)];
  }
  return [now - (RANGES[range] ?? RANGES['1h']) * 1000, now];
}

// Shows `factor` of point `mn` in the chart. For an alert, the range is the
// shortest relative range that reaches back to the alert's start, or the
// alert's own period when it started more than 24 hours ago. With `focus`
// the chart panel scrolls into view.
export function showInChart({ mn, factor, alert = null, focus = true }) {
  selection.mn = mn;
  selection.factor = factor ?? null;
  selection.kind = null;
  selection.alert = alert;
  if (alert) {
    const ageSeconds = (Date.now() - new Date(alert.first_at).getTime()) / 1000;
    selection.range = Object.keys(RANGES).find((range) => RANGES[range] >= ageSeconds) ?? ALERT_RANGE;
  } else if (selection.range === ALERT_RANGE) {
    selection.range = '1h';
  }
  if (focus) {
    selection.focus += 1;
  }
}
