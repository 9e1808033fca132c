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
