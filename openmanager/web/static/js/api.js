// HTTP helpers: the Prometheus-style JSON API, range queries aligned for uPlot, feature probes.

export class ApiError extends Error {}

export async function getJSON(url, init) {
  const res = await fetch(url, init);
  let body = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  if (!res.ok || (body && body.status === "error")) {
    const msg = body && (body.error || body.detail) ? (body.error || JSON.stringify(body.detail)) : `${res.status} ${res.statusText}`;
    throw new ApiError(msg);
  }
  return body;
}

export async function postJSON(url, payload) {
  return getJSON(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(payload),
  });
}

// A step that gives about `points` samples over [start, end] (seconds), at least 1 s.
export function autoStep(start, end, points = 240) {
  const raw = Math.max(1, (end - start) / points);
  const nice = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400];
  return nice.find((s) => s >= raw) || raw;
}

// PromQL range query -> {x: [...], series: [{labels, values}]} on one shared time grid.
export async function queryRange(expr, start, end, step) {
  step = step || autoStep(start, end);
  start = Math.floor(start / step) * step;
  const params = new URLSearchParams({ query: expr, start: String(start), end: String(end), step: String(step) });
  const body = await getJSON(`/api/v1/query_range?${params}`);
  const result = body.data.result || [];
  const n = Math.floor((end - start) / step) + 1;
  const x = Array.from({ length: n }, (_, i) => start + i * step);
  const series = result.map((r) => {
    const values = new Array(n).fill(null);
    for (const [t, v] of r.values || []) {
      const i = Math.round((t - start) / step);
      if (i >= 0 && i < n) values[i] = Number(v);
    }
    return { labels: r.metric || {}, values };
  });
  return { x, series, step };
}

export async function queryInstant(expr) {
  const body = await getJSON(`/api/v1/query?${new URLSearchParams({ query: expr })}`);
  return body.data;
}

// True when an optional data source (alerts, anomalies, ...) is served: anything but 404/405.
export async function probe(url) {
  try {
    const res = await fetch(url, { method: "GET" });
    return res.status !== 404 && res.status !== 405;
  } catch {
    return false;
  }
}

export function labelText(labels, skip = []) {
  const inner = Object.entries(labels)
    .filter(([k]) => k !== "__name__" && !skip.includes(k))
    .map(([k, v]) => `${k}="${v}"`)
    .join(", ");
  return `${labels.__name__ || ""}{${inner}}`;
}
