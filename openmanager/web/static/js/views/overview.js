// Fleet overview: totals and averages, a fleet chart, and one tile per server coloured by status,
// filtered by environment, role and status; updated live from `server-metrics`.

import { autoStep, getJSON, queryRange } from "../api.js";
import { Chart, fmtValue } from "../charts.js";

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

// (warning, critical) bounds, as the server judges status (openmanager/simulate/snapshot.py).
const BOUNDS = { CPU: [75, 90], MEM: [85, 95], DISK: [85, 95] };

function bar(label, value) {
  const v = Math.max(0, Math.min(100, value));
  const [warn, crit] = BOUNDS[label];
  const level = v >= crit ? "crit" : v >= warn ? "warn" : "ok";
  return `<div class="bar" title="${label} ${v.toFixed(1)}%"><span>${label}</span><i class="${level}" style="width:${v}%"></i><b>${v.toFixed(0)}%</b></div>`;
}

function tile(s) {
  const faults = s.active_faults.length ? `<em class="fault">${s.active_faults.length} fault${s.active_faults.length > 1 ? "s" : ""}</em>` : "";
  return `<a class="tile status-${s.status}" href="#/server/${encodeURIComponent(s.name)}" data-server="${esc(s.name)}"
      data-status="${s.status}" data-role="${esc(s.role)}" data-environment="${esc(s.environment)}" title="${esc(s.reasons.join("; ") || "healthy")}">
    <header><strong>${esc(s.name)}</strong><span class="dot"></span></header>
    <small>${esc(s.environment)} · ${esc(s.role)}</small>
    ${bar("CPU", s.cpu_percent)}${bar("MEM", s.memory_percent)}${bar("DISK", s.disk_percent)}
    <footer><span>${s.service_up ? fmtValue(s.response_time_ms, "ms") : "DOWN"}</span>${faults}</footer>
  </a>`;
}

function options(values, current) {
  return ['<option value="">all</option>', ...values.map((v) => `<option ${v === current ? "selected" : ""}>${esc(v)}</option>`)].join("");
}

export function mount(root, ctx, params) {
  const state = { servers: [], filter: { environment: params.environment || "", role: params.role || "", status: params.status || "" } };
  root.innerHTML = `
    <section class="summary" id="summary"></section>
    <form class="filters" id="filters">
      <label>environment <select name="environment"></select></label>
      <label>role <select name="role"></select></label>
      <label>status <select name="status"></select></label>
      <span id="shown"></span>
    </form>
    <div class="charts one" id="fleet-chart"></div>
    <section class="tiles" id="tiles"></section>`;
  const form = root.querySelector("#filters");
  const chart = new Chart(root.querySelector("#fleet-chart"), { title: "Fleet average CPU and memory, last hour", unit: "%", height: 160 });
  let chartAt = 0;

  function matchers() {
    const m = [];
    if (state.filter.environment) m.push(`environment="${state.filter.environment}"`);
    if (state.filter.role) m.push(`role="${state.filter.role}"`);
    return m;
  }

  async function refreshChart() {
    chartAt = Date.now();
    const m = matchers();
    const sel = (extra) => `{${[...m, ...extra].join(",")}}`;
    const to = Date.now() / 1000;
    const from = to - 3600;
    const step = autoStep(from, to, 120);
    try {
      const [cpu, mem] = await Promise.all([
        queryRange(`100 * (1 - avg(rate(node_cpu_seconds_total${sel(['mode="idle"'])}[1m])))`, from, to, step),
        queryRange(`100 * avg(1 - node_memory_MemAvailable_bytes${sel([])} / node_memory_MemTotal_bytes${sel([])})`, from, to, step),
      ]);
      chart.setData({
        x: cpu.x,
        series: [
          { name: "avg CPU", values: cpu.series[0] ? cpu.series[0].values : cpu.x.map(() => null) },
          { name: "avg memory", values: mem.series[0] ? mem.series[0].values : mem.x.map(() => null) },
        ],
      });
    } catch (e) {
      chart.error(String(e.message || e));
    }
  }

  function render() {
    const f = state.filter;
    const shown = state.servers.filter(
      (s) => (!f.environment || s.environment === f.environment) && (!f.role || s.role === f.role) && (!f.status || s.status === f.status),
    );
    const n = shown.length;
    const count = (st) => shown.filter((s) => s.status === st).length;
    const avg = (k) => (n ? shown.reduce((a, s) => a + s[k], 0) / n : 0);
    const faults = new Set(shown.flatMap((s) => s.active_faults));
    root.querySelector("#summary").innerHTML = `
      <div class="card"><b id="total">${n}</b><span>servers</span></div>
      <div class="card healthy"><b>${count("healthy")}</b><span>healthy</span></div>
      <div class="card warning"><b>${count("warning")}</b><span>warning</span></div>
      <div class="card critical"><b>${count("critical")}</b><span>critical</span></div>
      <div class="card"><b>${avg("cpu_percent").toFixed(1)}%</b><span>avg CPU</span></div>
      <div class="card"><b>${avg("memory_percent").toFixed(1)}%</b><span>avg memory</span></div>
      <div class="card"><b>${faults.size}</b><span>active faults</span></div>`;
    root.querySelector("#tiles").innerHTML = shown.map(tile).join("");
    root.querySelector("#shown").textContent = `${n} of ${state.servers.length} shown`;
    const uniq = (k) => [...new Set(state.servers.map((s) => s[k]))].sort();
    const fill = (select, values, current) => {
      const html = options(values, current);
      if (select.dataset.html !== html) select.innerHTML = select.dataset.html = html;
    };
    fill(form.environment, uniq("environment"), f.environment);
    fill(form.role, uniq("role"), f.role);
    fill(form.status, ["healthy", "warning", "critical"], f.status);
  }

  form.addEventListener("change", () => {
    state.filter = { environment: form.environment.value, role: form.role.value, status: form.status.value };
    render();
    refreshChart();
  });

  getJSON("/api/v1/fleet")
    .then((body) => {
      state.servers = body.data.servers;
      render();
    })
    .catch((e) => {
      root.querySelector("#tiles").innerHTML = `<p class="error">${esc(e.message)}</p>`;
    });
  refreshChart();

  const off = ctx.live.on("server-metrics", {}, (data) => {
    state.servers = data.servers;
    render();
    if (Date.now() - chartAt > 5000) refreshChart();
  });
  return () => {
    off();
    chart.destroy();
  };
}
