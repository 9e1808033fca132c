// Server detail: live figures, and CPU, memory, disk, network and response-time charts over any
// range (buttons, inputs, or drag to zoom), with injected faults, alerts and anomalies marked.

import { getJSON, probe, queryRange } from "../api.js";
import { Chart, fmtValue } from "../charts.js";
import { RangePicker } from "../range.js";
import { logsPanel } from "./logs_panel.js";

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

function panels(name, step) {
  const s = `server="${name}"`;
  const w = `${Math.max(60, 2 * step)}s`;
  return [
    { id: "cpu", title: "CPU busy", unit: "%", queries: [[`100 * (1 - avg(rate(node_cpu_seconds_total{${s},mode="idle"}[${w}])))`, () => "CPU"]] },
    { id: "memory", title: "Memory used", unit: "%", queries: [[`100 * (1 - node_memory_MemAvailable_bytes{${s}} / node_memory_MemTotal_bytes{${s}})`, () => "memory"]] },
    { id: "disk", title: "Disk used", unit: "%", queries: [[`100 * (1 - node_filesystem_avail_bytes{${s}} / node_filesystem_size_bytes{${s}})`, (l) => l.mountpoint || "disk"]] },
    {
      id: "network", title: "Network", unit: "B/s", queries: [
        [`rate(node_network_receive_bytes_total{${s}}[${w}])`, (l) => `rx ${l.device || ""}`],
        [`rate(node_network_transmit_bytes_total{${s}}[${w}])`, (l) => `tx ${l.device || ""}`],
      ],
    },
    {
      id: "latency", title: "Response time", unit: "ms", queries: [
        [`1000 * rate(http_request_duration_seconds_sum{${s}}[${w}]) / rate(http_request_duration_seconds_count{${s}}[${w}])`, () => "mean"],
        [`1000 * histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{${s}}[${w}])))`, () => "p95"],
      ],
    },
  ];
}

function figures(s) {
  const cell = (k, v) => `<div class="card"><b>${v}</b><span>${k}</span></div>`;
  return [
    cell("status", `<span class="badge status-${s.status}">${s.status}</span>`),
    cell("CPU", fmtValue(s.cpu_percent, "%")),
    cell("memory", fmtValue(s.memory_percent, "%")),
    cell("disk", fmtValue(s.disk_percent, "%")),
    cell("rx", fmtValue(s.network_rx_bytes_per_s, "B/s")),
    cell("tx", fmtValue(s.network_tx_bytes_per_s, "B/s")),
    cell("response", s.service_up ? fmtValue(s.response_time_ms, "ms") : "DOWN"),
  ].join("");
}

// Optional event sources; each returns [] when its API is absent.
async function events(name) {
  const bands = [];
  const marks = [];
  try {
    const gt = await getJSON("/api/v1/fleet/ground_truth");
    for (const f of gt.data.faults || []) {
      for (const a of f.affected || []) {
        if (a.server === name) bands.push({ from: a.start_ms / 1000, to: a.end_ms / 1000, label: f.scenario });
      }
    }
  } catch { /* simulator off */ }
  try {
    const al = await getJSON("/api/v1/alerts");
    for (const a of (al.data && al.data.alerts) || []) {
      if ((a.labels || {}).server === name && a.activeAt) marks.push({ at: Date.parse(a.activeAt) / 1000, label: a.labels.alertname, color: "#ef4444" });
    }
  } catch { /* alerting not available */ }
  try {
    const an = await getJSON("/api/v1/anomalies");
    const items = Array.isArray(an.data) ? an.data : (an.data && an.data.anomalies) || [];
    for (const a of items) {
      const at = a.window_start != null ? Number(a.window_start) : a.start_ms ? a.start_ms / 1000 : null;
      const srv = a.server || (a.series || a.labels || {}).server;
      if (at && srv === name) marks.push({ at, label: a.check || a.detector || "anomaly", color: "#f59e0b" });
    }
  } catch { /* anomalies not available */ }
  return { bands, marks };
}

// Forecast panels (when /api/v1/forecast exists): recent history, the forecast with its interval
// (6 h ahead, or less when history is short), and the time until the threshold is crossed.
const FORECASTS = [
  { id: "forecast-disk", title: "Disk used: forecast", threshold: 95,
    expr: (s) => `100 * (1 - node_filesystem_avail_bytes{${s}} / node_filesystem_size_bytes{${s}})`, label: (l) => l.mountpoint || "disk" },
  { id: "forecast-memory", title: "Memory used: forecast", threshold: 95,
    expr: (s) => `100 * (1 - node_memory_MemAvailable_bytes{${s}} / node_memory_MemTotal_bytes{${s}})`, label: () => "memory" },
];

const HORIZONS = [6 * 3600, 3600, 900];

async function forecastPanels(root, name, charts) {
  if (!(await probe("/api/v1/forecast"))) return;
  const box = document.createElement("section");
  box.id = "forecasts";
  box.innerHTML = `<h2>Forecast, next 6 hours</h2><div class="charts"></div><ul class="exhaustion"></ul>`;
  root.appendChild(box);
  const list = box.querySelector(".exhaustion");
  for (const f of FORECASTS) {
    const chart = new Chart(box.querySelector(".charts"), { title: f.title, unit: "%" });
    chart.box.dataset.chart = f.id;
    charts.set(f.id, chart);
    const expr = f.expr(`server="${name}"`);
    try {
      // the longest horizon the stored history supports (a forecast needs history >= horizon)
      let fc = null;
      let horizon = 0;
      for (const h of HORIZONS) {
        const params = new URLSearchParams({ query: expr, horizon: `${h}s`, threshold: String(f.threshold), direction: "up" });
        fc = await getJSON(`/api/v1/forecast?${params}`);
        horizon = h;
        if (fc.data.result.some((r) => r.forecast)) break;
      }
      const now = Date.now() / 1000;
      box.querySelector("h2").textContent = `Forecast, next ${horizon >= 3600 ? `${horizon / 3600} h` : `${horizon / 60} min`}`;
      const hist = await queryRange(expr, now - horizon, now, Math.max(15, horizon / 72));
      const results = fc.data.result.filter((r) => r.forecast);
      const xs = [...new Set([...hist.x, ...results.flatMap((r) => r.forecast.points.map((p) => p[0]))])].sort((a, b) => a - b);
      const at = new Map(xs.map((x, i) => [x, i]));
      const series = [];
      results.forEach((r, k) => {
        const label = f.label(r.metric);
        const h = hist.series.find((s) => f.label(s.labels) === label);
        const obs = xs.map(() => null);
        if (h) hist.x.forEach((x, i) => { obs[at.get(x)] = h.values[i]; });
        const cols = [1, 2, 3].map(() => xs.map(() => null));
        for (const p of r.forecast.points) for (const c of [0, 1, 2]) cols[c][at.get(p[0])] = p[c + 1];
        const color = ["#3b82f6", "#10b981"][k % 2];
        const pct = Math.round(100 * r.forecast.level);
        series.push({ name: `${label}`, values: obs, color });
        series.push({ name: `${label} forecast`, values: cols[0], color: "#f59e0b", spanGaps: true });
        series.push({ name: `${label} ${pct}% low`, values: cols[1], color: "#f59e0b", dash: true, spanGaps: true });
        series.push({ name: `${label} ${pct}% high`, values: cols[2], color: "#f59e0b", dash: true, spanGaps: true });
        if (r.exhaustion) list.insertAdjacentHTML("beforeend", `<li>${esc(f.title.split(":")[0])}: ${esc(r.exhaustion.summary)}</li>`);
      });
      if (series.length) chart.setData({ x: xs, series });
      else chart.error((fc.data.result[0] && fc.data.result[0].error) || "no forecast");
    } catch (e) {
      chart.error(String(e.message || e));
    }
  }
}

export function mount(root, ctx, params) {
  const name = params.name;
  root.innerHTML = `
    <nav class="crumbs"><a href="#/">Fleet</a> › <strong id="server-name">${esc(name)}</strong> <small id="server-meta"></small></nav>
    <section class="summary" id="figures"></section>
    <p class="reasons" id="reasons"></p>
    <div id="range-box"></div>
    <p class="hint">Drag across a chart to zoom; pick a range to return.</p>
    <div class="charts" id="charts"></div>`;
  let picker;
  const charts = new Map();
  let loading = false;
  let lastLoad = 0;
  let marks = { bands: [], marks: [] };
  let logs = null;
  let gone = false;

  const zoom = (from, to) => picker.set({ from, to });
  for (const p of panels(name, 15)) {
    const c = new Chart(root.querySelector("#charts"), { title: p.title, unit: p.unit, onZoom: zoom, syncKey: `srv-${name}` });
    c.box.dataset.chart = p.id;
    charts.set(p.id, c);
  }

  async function load() {
    if (loading) return;
    loading = true;
    lastLoad = Date.now();
    const { from, to } = picker.bounds();
    if (logs) logs.reload(picker.bounds());
    const step = Math.max(1, Math.ceil((to - from) / 300));
    await Promise.all(
      panels(name, step).map(async (p) => {
        const chart = charts.get(p.id);
        try {
          const results = await Promise.all(p.queries.map(([q]) => queryRange(q, from, to, step)));
          const series = [];
          results.forEach((r, i) => {
            for (const s of r.series) series.push({ name: p.queries[i][1](s.labels), values: s.values });
          });
          chart.setData({ x: results[0].x, series });
          chart.setEvents(marks.bands, marks.marks);
        } catch (e) {
          chart.error(String(e.message || e));
        }
      }),
    );
    loading = false;
  }

  async function loadEvents() {
    marks = await events(name);
    for (const c of charts.values()) c.setEvents(marks.bands, marks.marks);
  }

  function showServer(s) {
    root.querySelector("#figures").innerHTML = figures(s);
    root.querySelector("#server-meta").textContent = `${s.environment} · ${s.role} · ${s.instance}`;
    const faults = s.active_faults.length ? ` Active faults: ${s.active_faults.join(", ")}.` : "";
    root.querySelector("#reasons").textContent = (s.reasons.length ? s.reasons.join("; ") + "." : "All figures within bounds.") + faults;
    root.querySelector("#figures").dataset.status = s.status;
  }

  picker = new RangePicker(root.querySelector("#range-box"), params.from ? { from: +params.from, to: +params.to } : { relative: params.range || "1h" }, () => load());
  getJSON(`/api/v1/fleet/${encodeURIComponent(name)}`)
    .then((b) => showServer(b.data))
    .catch((e) => { root.querySelector("#reasons").textContent = e.message; });
  load();
  loadEvents();
  forecastPanels(root, name, charts).then(() => logsPanel(root, ctx, name, () => picker.bounds())).then((p) => {
    if (gone) p.destroy();
    else logs = p;
  });

  const off = ctx.live.on("server-metrics", { server: name }, (data) => {
    const s = data.servers.find((x) => x.name === name);
    if (s) showServer(s);
    if (picker.bounds().live && Date.now() - lastLoad > 4000) {
      load();
      loadEvents();
    }
  });
  return () => {
    off();
    gone = true;
    if (logs) logs.destroy();
    for (const c of charts.values()) c.destroy();
  };
}
