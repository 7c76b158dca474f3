// Tests of the dashboard's pure helpers: axis ranges, time windows, paging
// and password masking.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { fetchAll } from '../src/lib/api.js';
import { niceStep, valueAxisRange } from '../src/lib/axis.js';
import { maskPassword } from '../src/lib/hj212.js';
import { ALERT_RANGE, rangeWindow } from '../src/state.js';

test('niceStep picks round steps', () => {
  assert.equal(niceStep(131), 50);
  assert.equal(niceStep(100), 20);
  assert.equal(niceStep(12), 2.5);
  assert.equal(niceStep(0.5), 0.1);
});

test('value axis includes both limits', () => {
  const range = valueAxisRange([6.8, 7.1, 7.4], { lower: 6, upper: 9 });
  assert.equal(range.min, 6);
  assert.equal(range.max, 10);
  assert.equal(range.interval, 1);
});

test('value axis leaves room above a limit at the top', () => {
  const range = valueAxisRange([20, 60], { upper: 100 });
  assert.equal(range.min, 20);
  assert.equal(range.max, 120);
  assert.equal(range.interval, 20);
});

test('value axis keeps negative values', () => {
  const range = valueAxisRange([-4.2, -1.5, 0.3], null);
  assert.ok(range.min <= -4.2, `min ${range.min}`);
  assert.ok(range.max >= 0.3, `max ${range.max}`);
});

test('value axis labels have no float noise', () => {
  const range = valueAxisRange([0.1, 0.2, 0.35], null);
  for (const value of [range.min, range.max, range.interval]) {
    assert.ok(String(value).length <= 6, `${value}`);
  }
});

test('value axis of nothing is left to ECharts', () => {
  assert.deepEqual(valueAxisRange([], null), {});
  assert.deepEqual(valueAxisRange([], { upper: null, lower: null }), {});
});

test('relative ranges end now', () => {
  const now = Date.parse('2026-12-04T08:00:00Z');
  assert.deepEqual(rangeWindow('6h', null, now), [now - 6 * 3600 * 1000, now]);
  assert.deepEqual(rangeWindow('unknown', null, now), [now - 3600 * 1000, now]);
});

test('alert range surrounds the alert', () => {
  const now = Date.parse('2026-12-04T08:00:00Z');
  const alert = { first_at: '2016-08-23T16:38:17Z', last_at: '2016-08-23T16:40:00Z', resolved_at: null };
  const [from, to] = rangeWindow(ALERT_RANGE, alert, now);
  assert.equal(from, Date.parse('2016-08-23T16:08:17Z'));
  assert.equal(to, Date.parse('2016-08-23T17:10:00Z'));
});

test('alert range ends at resolution and never after now', () => {
  const now = Date.parse('2026-12-04T08:00:00Z');
  const resolved = { first_at: '2026-12-01T00:00:00Z', last_at: '2026-12-01T01:00:00Z', resolved_at: '2026-12-01T02:00:00Z' };
  assert.equal(rangeWindow(ALERT_RANGE, resolved, now)[1], Date.parse('2026-12-01T02:30:00Z'));
  const recent = { first_at: '2026-12-04T07:50:00Z', last_at: '2026-12-04T07:59:00Z', resolved_at: null };
  assert.equal(rangeWindow(ALERT_RANGE, recent, now)[1], now);
});

test('fetchAll follows cursors and stops at the maximum', async () => {
  const pages = { '': ['a', 'b'], c1: ['c', 'd'], c2: ['e'] };
  const next = { '': 'c1', c1: 'c2', c2: null };
  const readPage = async (cursor) => ({ items: pages[cursor ?? ''], next_cursor: next[cursor ?? ''] });

  const all = await fetchAll(readPage, 100);
  assert.deepEqual(all.items, ['a', 'b', 'c', 'd', 'e']);
  assert.equal(all.truncated, false);

  const some = await fetchAll(readPage, 3);
  assert.deepEqual(some.items, ['a', 'b', 'c']);
  assert.equal(some.truncated, true);
});

test('maskPassword hides PW only', () => {
  const packet = '##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&1C80';
  const masked = maskPassword(packet);
  assert.ok(!masked.includes('100000;'), masked);
  assert.ok(masked.includes(';PW=******;'), masked);
  assert.ok(masked.includes('MN=010000A8900016F000169DC0'), masked);
  assert.ok(masked.includes('RtdInterval=30'), masked);
});

test('maskPassword masks an empty PW and leaves packets without one', () => {
  assert.equal(maskPassword('ST=32;CN=2011;PW=;MN=1'), 'ST=32;CN=2011;PW=******;MN=1');
  assert.equal(maskPassword('ST=32;CN=2011;MN=1'), 'ST=32;CN=2011;MN=1');
});
