// Formatting of times, numbers and codes for display, in the current language.
//
// Times are shown in the browser's time zone, which for regulator staff is
// the local time the API's "today" also counts from.
import { locale, t, tryT } from '../i18n/index.js';

const dateTimeFormats = new Map();

function dateTimeFormat(options) {
  const key = `${locale.value}|${JSON.stringify(options)}`;
  let format = dateTimeFormats.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat(locale.value, { hourCycle: 'h23', ...options });
    dateTimeFormats.set(key, format);
  }
  return format;
}

function parts(date, options) {
  const result = {};
  for (const part of dateTimeFormat(options).formatToParts(date)) {
    result[part.type] = part.value;
  }
  return result;
}

// Formats an RFC 3339 time, or milliseconds since the epoch, as
// `MM-DD HH:mm:ss`, or `YYYY-MM-DD HH:mm:ss` when it is not in the current year.
export function formatTime(value) {
  if (!value) {
    return t('common.none');
  }
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) {
    return String(value);
  }
  const p = parts(date, {
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  const clock = `${p.hour}:${p.minute}:${p.second}`;
  if (date.getFullYear() === new Date().getFullYear()) {
    return `${p.month}-${p.day} ${clock}`;
  }
  return `${p.year}-${p.month}-${p.day} ${clock}`;
}

// Formats the time of day only, `HH:mm:ss`.
export function formatClock(date) {
  const p = parts(date, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  return `${p.hour}:${p.minute}:${p.second}`;
}

// Formats how long ago `value` was, relative to `now` (both in milliseconds or RFC 3339).
export function formatAgo(value, now = Date.now()) {
  if (!value) {
    return t('common.none');
  }
  const seconds = Math.max(0, Math.round((now - new Date(value).getTime()) / 1000));
  if (seconds < 60) {
    return t('common.ago.seconds', { n: seconds });
  }
  if (seconds < 3600) {
    return t('common.ago.minutes', { n: Math.floor(seconds / 60) });
  }
  if (seconds < 86400) {
    return t('common.ago.hours', { n: Math.floor(seconds / 3600) });
  }
  return t('common.ago.days', { n: Math.floor(seconds / 86400) });
}

// Formats a duration given in seconds, such as an upload interval.
export function formatInterval(seconds) {
  if (seconds == null) {
    return t('common.none');
  }
  if (seconds % 3600 === 0) {
    return t('common.hours', { n: seconds / 3600 });
  }
  if (seconds % 60 === 0) {
    return t('common.minutes', { n: seconds / 60 });
  }
  return t('common.seconds', { n: seconds });
}

const integerFormats = new Map();

// Formats a count with the locale's digit grouping.
export function formatCount(value) {
  if (value == null) {
    return t('common.none');
  }
  let format = integerFormats.get(locale.value);
  if (!format) {
    format = new Intl.NumberFormat(locale.value, { maximumFractionDigits: 0 });
    integerFormats.set(locale.value, format);
  }
  return format.format(value);
}

// Formats a measured value with 1 to 3 decimals, fewer for larger values,
// and its unit when known.
export function formatValue(value, unit) {
  if (value == null || Number.isNaN(value)) {
    return t('common.none');
  }
  const magnitude = Math.abs(value);
  let digits = 3;
  if (magnitude >= 100) {
    digits = 1;
  } else if (magnitude >= 1) {
    digits = 2;
  }
  const text = String(Number(value.toFixed(digits)));
  return unit ? `${text} ${unit}` : text;
}

// Returns a factor's display name, such as `化学需氧量`, or the code itself
// for codes outside the HJ 212-2017 tables.
export function factorName(code) {
  if (!code) {
    return t('common.none');
  }
  return tryT(`factor.${code}`) ?? code;
}

// Returns the meaning of an HJ 212 data flag, such as `maintenance` for M.
export function flagName(flag) {
  return tryT(`flag.${flag}`) ?? t('flag.other', { flag });
}

// Returns the meaning of an HJ 212 system code (ST), or the code itself.
export function systemName(code) {
  return tryT(`system.${code}`) ?? code;
}
