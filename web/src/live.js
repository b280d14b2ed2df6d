// Live traffic of an endpoint from the server's own Prometheus metrics (/metrics): requests
// per second, the share of server errors and the p99 latency over the last poll interval.

// Prometheus text into [{name, labels, value}] (comments and malformed lines skipped).
export function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const pair of (m[2] || '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

// An endpoint's counters now: requests, server errors, latency buckets (le -> count).
export function endpointTotals(samples, endpoint) {
  const totals = { requests: 0, errors: 0, buckets: new Map() };
  for (const s of samples) {
    if (s.labels.endpoint !== endpoint) continue;
    if (s.name === 'fraudops_http_requests_total') {
      totals.requests += s.value;
      if (Number(s.labels.code) >= 500) totals.errors += s.value;
    } else if (s.name === 'fraudops_http_request_duration_seconds_bucket') {
      const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
      totals.buckets.set(le, (totals.buckets.get(le) || 0) + s.value);
    }
  }
  return totals;
}

// Rates between two readings `seconds` apart: {rps, error_share, p99_ms} (null when idle).
export function rates(before, after, seconds) {
  const requests = after.requests - before.requests;
  if (!(seconds > 0) || requests <= 0) return { rps: 0, error_share: null, p99_ms: null };
  const bounds = [...after.buckets.keys()].sort((a, b) => a - b);
  const counts = bounds.map((le) => after.buckets.get(le) - (before.buckets.get(le) || 0));
  const total = counts[counts.length - 1] || 0;
  let p99 = null;
  for (let i = 0; i < bounds.length && total > 0; ++i) {
    if (counts[i] >= 0.99 * total) { p99 = bounds[i] === Infinity ? null : bounds[i] * 1000; break; }
  }
  return { rps: requests / seconds, error_share: (after.errors - before.errors) / requests, p99_ms: p99 };
}
