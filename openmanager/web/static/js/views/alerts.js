// Alerts (when /api/v1/alerts exists): firing, pending and silenced, live on the `alerts`
// channel; silence an alert from here when the API serves /api/v1/silences.

import { getJSON, postJSON, probe } from "../api.js";

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

function stateOf(a) {
  const st = (a.status && a.status.state) || a.state || "unknown";
  return st === "suppressed" ? "silenced" : st;
}

export function mount(root, ctx) {
  root.innerHTML = `<h2>Alerts</h2><div id="alerts"><p>loading…</p></div>`;
  let canSilence = false;

  async function load() {
    const box = root.querySelector("#alerts");
    try {
      const body = await getJSON("/api/v1/alerts");
      const alerts = (body.data && body.data.alerts) || body.data || [];
      const groups = { firing: [], pending: [], silenced: [] };
      for (const a of alerts) (groups[stateOf(a)] || (groups[stateOf(a)] = [])).push(a);
      box.innerHTML = Object.entries(groups)
        .map(([st, list]) => `<section class="alert-group" data-state="${st}"><h3>${st} (${list.length})</h3>
          ${list.length ? `<table class="results"><tbody>${list.map((a) => `<tr class="alert-${st}">
            <td><strong>${esc((a.labels || {}).alertname || "alert")}</strong><br><small>${esc(Object.entries(a.labels || {}).filter(([k]) => k !== "alertname").map(([k, v]) => `${k}=${v}`).join(" "))}</small></td>
            <td>${esc((a.annotations || {}).summary || (a.annotations || {}).description || "")}</td>
            <td><small>${esc(a.activeAt || a.startsAt || "")}</small></td>
            <td>${canSilence && st !== "silenced" ? `<button data-silence='${esc(JSON.stringify(a.labels || {}))}'>silence 1h</button>` : ""}</td>
          </tr>`).join("")}</tbody></table>` : "<p>none</p>"}</section>`)
        .join("");
    } catch (e) {
      box.innerHTML = `<p class="error">${esc(e.message)}</p>`;
    }
  }

  root.addEventListener("click", async (e) => {
    const b = e.target.closest("button[data-silence]");
    if (!b) return;
    const labels = JSON.parse(b.dataset.silence);
    const now = new Date();
    try {
      await postJSON("/api/v1/silences", {
        matchers: Object.entries(labels).map(([name, value]) => ({ name, value, isRegex: false, isEqual: true })),
        startsAt: now.toISOString(),
        endsAt: new Date(now.getTime() + 3600e3).toISOString(),
        createdBy: "dashboard",
        comment: "silenced from the dashboard",
      });
      load();
    } catch (err) {
      b.textContent = `failed: ${err.message}`;
    }
  });

  probe("/api/v1/silences").then((ok) => { canSilence = ok; load(); });
  const off = ctx.live.on("alerts", {}, () => load());
  return off;
}
