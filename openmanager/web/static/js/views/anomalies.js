// Anomalies (when /api/v1/anomalies exists): the latest verdicts with their evidence, live on the
// `anomalies` channel.

import { getJSON } from "../api.js";

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const show = (v) => (v && typeof v === "object" ? JSON.stringify(v) : String(v ?? ""));

export function mount(root, ctx) {
  root.innerHTML = `<h2>Anomalies</h2><div id="anomalies"><p>loading…</p></div>`;

  async function load() {
    const box = root.querySelector("#anomalies");
    try {
      const body = await getJSON("/api/v1/anomalies");
      const items = Array.isArray(body.data) ? body.data : (body.data && (body.data.anomalies || body.data.items)) || [];
      if (!items.length) {
        box.innerHTML = "<p>No anomalies.</p>";
        return;
      }
      const time = (t) => (t ? new Date(t * 1000).toLocaleTimeString() : "");
      const num = (v) => (typeof v === "number" ? v.toPrecision(4) : show(v));
      const known = items[0].series !== undefined && items[0].check !== undefined;
      if (known) {
        box.innerHTML = `<table class="results"><thead><tr><th>when</th><th>server</th><th>check</th><th>observed</th><th>expected (band)</th><th>score</th><th>detectors</th></tr></thead>
          <tbody>${items.slice(0, 200).map((a) => `<tr>
            <td>${time(a.window_start)}–${time(a.window_end)}</td>
            <td><a href="#/server/${encodeURIComponent((a.series || {}).server || "")}">${esc((a.series || {}).server || (a.series || {}).instance || "")}</a></td>
            <td>${esc(a.check)}<br><small><code>${esc(Object.entries(a.series || {}).map(([k, v]) => `${k}=${v}`).join(" "))}</code></small></td>
            <td>${num(a.observed)}</td><td>${num(a.expected)} (${num(a.lower)}..${num(a.upper)})</td>
            <td>${num(a.score)}</td><td>${esc((a.agreeing || [a.detector]).join(", "))}</td></tr>`).join("")}</tbody></table>`;
        return;
      }
      const keys = [...new Set(items.flatMap((i) => Object.keys(i)))].slice(0, 8);
      box.innerHTML = `<table class="results"><thead><tr>${keys.map((k) => `<th>${esc(k)}</th>`).join("")}</tr></thead>
        <tbody>${items.slice(0, 200).map((i) => `<tr>${keys.map((k) => `<td>${esc(show(i[k]))}</td>`).join("")}</tr>`).join("")}</tbody></table>`;
    } catch (e) {
      box.innerHTML = `<p class="error">${esc(e.message)}</p>`;
    }
  }

  load();
  return ctx.live.on("anomalies", {}, () => load());
}
