// PromQL explorer: run an expression over a range, graph every series, list the latest values.

import { labelText, queryRange } from "../api.js";
import { Chart, fmtValue } from "../charts.js";
import { RangePicker } from "../range.js";

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const MAX_SERIES = 50;
const EXAMPLES = [
  'sum by (role) (rate(http_requests_total[5m]))',
  '100 * (1 - avg by (server) (rate(node_cpu_seconds_total{mode="idle"}[5m])))',
  'node_load1',
  'histogram_quantile(0.99, sum by (le, role) (rate(http_request_duration_seconds_bucket[5m])))',
];

export function mount(root, ctx, params) {
  root.innerHTML = `
    <form class="explorer" id="explorer">
      <textarea name="expr" rows="2" spellcheck="false" placeholder="PromQL, e.g. rate(node_network_receive_bytes_total[5m])">${esc(params.q || EXAMPLES[0])}</textarea>
      <div class="row"><button type="submit">Run</button><small>Ctrl+Enter runs · examples: ${EXAMPLES.map((e, i) => `<a href="#" data-ex="${i}">${i + 1}</a>`).join(" ")}</small></div>
    </form>
    <div id="range-box"></div>
    <p class="error" id="error" hidden></p>
    <div class="charts one" id="graph"></div>
    <table class="results" id="results"><thead><tr><th>series</th><th>last</th></tr></thead><tbody></tbody></table>`;
  const form = root.querySelector("#explorer");
  const errorEl = root.querySelector("#error");
  const chart = new Chart(root.querySelector("#graph"), { title: "Result", unit: "", height: 300, onZoom: (from, to) => picker.set({ from, to }) });
  chart.box.dataset.chart = "explorer";

  async function run() {
    const expr = form.expr.value.trim();
    if (!expr) return;
    history.replaceState(null, "", `#/explorer?${new URLSearchParams({ q: expr })}`);
    errorEl.hidden = true;
    const { from, to } = picker.bounds();
    try {
      const r = await queryRange(expr, from, to);
      const series = r.series.slice(0, MAX_SERIES).map((s) => ({ name: labelText(s.labels), values: s.values }));
      chart.setData({ x: r.x, series });
      root.querySelector("#results tbody").innerHTML = r.series
        .slice(0, MAX_SERIES)
        .map((s) => {
          const last = [...s.values].reverse().find((v) => v != null);
          return `<tr><td><code>${esc(labelText(s.labels))}</code></td><td>${fmtValue(last, "")}</td></tr>`;
        })
        .join("") + (r.series.length > MAX_SERIES ? `<tr><td colspan="2">${r.series.length - MAX_SERIES} more series not shown</td></tr>` : "");
    } catch (e) {
      errorEl.hidden = false;
      errorEl.textContent = e.message || String(e);
    }
  }

  const picker = new RangePicker(root.querySelector("#range-box"), { relative: params.range || "1h" }, run);
  form.addEventListener("submit", (e) => { e.preventDefault(); run(); });
  form.expr.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); run(); }
  });
  form.addEventListener("click", (e) => {
    const a = e.target.closest("a[data-ex]");
    if (!a) return;
    e.preventDefault();
    form.expr.value = EXAMPLES[+a.dataset.ex];
    run();
  });
  run();
  return () => chart.destroy();
}
