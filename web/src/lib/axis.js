// Value axis ranges for the readings chart.

// Returns a round step that splits `span` into about five intervals.
export function niceStep(span) {
  const rough = span / 5;
  const power = 10 ** Math.floor(Math.log10(rough));
  const factor = [1, 2, 2.5, 5, 10].find((candidate) => candidate * power >= rough);
  return factor * power;
}

// Returns the value axis's `{ min, max, interval }`: round numbers that take
// in every value and both bounds of `limit`, so the limit lines are always
// visible. Returns `{}` when there is nothing to show, so ECharts chooses.
export function valueAxisRange(values, limit) {
  const bounds = [...values];
  for (const bound of [limit?.upper, limit?.lower]) {
    if (bound != null) {
      bounds.push(bound);
    }
  }
  if (!bounds.length) {
    return {};
  }
  const low = Math.min(...bounds);
  const high = Math.max(...bounds);
  const interval = niceStep(high - low || Math.abs(high) || 1);
  let min = Math.floor(low / interval) * interval;
  if (low >= 0) {
    min = Math.max(0, min);
  }
  let max = Math.ceil(high / interval) * interval;
  // A limit exactly at the top would put its label on the grid's edge.
  if (max === high) {
    max += interval;
  }
  // Rounding drops the binary fractions that would show in labels, such as 0.30000000000000004.
  const round = (value) => Number(value.toPrecision(12));
  return { min: round(min), max: round(max), interval: round(interval) };
}
