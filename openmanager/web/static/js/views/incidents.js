// Incidents (when /api/v1/incidents exists): the list (status, servers, start, top cause) and one
// incident's timeline and root-cause ranking, with acknowledge/resolve; live on `incidents`.

import { getJSON, postJSON } from "../api.js";

const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const when = (t) => (t ? new Date(t * 1000).toLocaleString() : "");
const explorerLink = (q) => `#/explorer?${new URLSearchParams({ q })}`;
const TOP_CAUSE_FOR = 10; // list rows whose top cause is looked up (ranking costs queries)

function causeText(c) {
  return `${c.signal || c.metric} on ${c.server}`;
}

function serverLinks(servers) {
  return (servers || []).map((s) => `<a href="#/server/${encodeURIComponent(s)}">${esc(s)}</a>`).join(", ");
}

function renderList(box, items, tops) {
  if (!items.length) {
    box.innerHTML = "<p>No incidents.</p>";
    return;
  }
  box.innerHTML = `<table class="results incidents"><thead><tr><th>#</th><th>status</th><th>title</th><th>servers</th><th>started</th><th>top cause</th></tr></thead>
    <tbody>${items.map((i) => `<tr data-incident="${i.id}" data-status="${esc(i.status)}">
      <td><a href="#/incidents?id=${i.id}">${i.id}</a></td>
      <td><span class="badge status-${esc(i.status)}">${esc(i.status)}</span></td>
      <td><a href="#/incidents?id=${i.id}">${esc(i.title)}</a><br><small>${i.events} events</small></td>
      <td>${serverLinks(i.servers)}</td>
      <td><small>${when(i.started_at)}</small></td>
      <td class="top-cause">${tops.has(i.id) ? (tops.get(i.id) ? esc(causeText(tops.get(i.id))) : "<small>none ranked</small>") : "<small>…</small>"}</td>
    </tr>`).join("")}</tbody></table>`;
}

function renderDetail(box, inc) {
  const causes = inc.causes || [];
  const open = inc.status !== "resolved";
  box.innerHTML = `
    <p class="crumbs"><a href="#/incidents">← all incidents</a></p>
    <h3 id="incident-title">#${inc.id} ${esc(inc.title)} <span class="badge status-${esc(inc.status)}" id="incident-status">${esc(inc.status)}</span></h3>
    <p><small>started ${when(inc.started_at)} · servers ${serverLinks(inc.servers)}
      ${inc.acknowledged_at ? ` · acknowledged ${when(inc.acknowledged_at)} by ${esc(inc.acknowledged_by)}` : ""}
      ${inc.resolved_at ? ` · resolved ${when(inc.resolved_at)}` : ""}</small></p>
    <div class="row actions">
      ${open && !inc.acknowledged_at ? `<button data-act="ack">Acknowledge</button>` : ""}
      ${open ? `<button data-act="resolve">Resolve</button>` : ""}
      <a href="/api/v1/logs?incident=${inc.id}" target="_blank">logs</a>
    </div>
    <p class="error" id="act-error" hidden></p>
    <h3>Root-cause ranking</h3>
    ${causes.length ? `<ol class="causes" id="causes">${causes.map((c) => `<li class="cause">
      <strong>${esc(causeText(c))}</strong> <span class="score">score ${Number(c.score).toFixed(2)}</span>
      ${(c.reasons || []).length ? `<ul class="reasons">${c.reasons.map((r) => `<li>${esc(r)}</li>`).join("")}</ul>` : ""}
      <ul class="evidence">${(c.evidence || []).map((e) => `<li>${e.promql ? `<a class="promql" href="${esc(explorerLink(e.promql))}"><code>${esc(e.promql)}</code></a>` : esc(e.signal || "")}
        ${typeof e.before === "number" && typeof e.after === "number" ? `<small>${e.before.toPrecision(4)} → ${e.after.toPrecision(4)}${typeof e.z === "number" ? ` (${e.z.toFixed(1)}σ)` : ""}</small>` : ""}</li>`).join("")}</ul>
    </li>`).join("")}</ol>` : "<p id=\"causes\">No candidate causes ranked (no metric moved clearly in the window).</p>"}
    <h3>Timeline</h3>
    <table class="results" id="timeline"><tbody>${(inc.timeline || []).map((e) => `<tr data-kind="${esc(e.kind)}">
      <td><small>${when(e.at)}</small></td><td><span class="badge">${esc(e.kind)}</span></td>
      <td>${esc(e.text)}${e.data && e.data.promql ? ` <a class="promql" href="${esc(explorerLink(e.data.promql))}"><code>${esc(e.data.promql)}</code></a>` : ""}</td>
    </tr>`).join("")}</tbody></table>`;
}

export function mount(root, ctx, params) {
  root.innerHTML = `<h2>Incidents</h2><div id="incidents"><p>loading…</p></div>`;
  const box = root.querySelector("#incidents");
  const tops = new Map(); // id -> top cause (or null), cached while this view is mounted
  let seq = 0;

  async function loadList() {
    const mine = ++seq;
    const items = (await getJSON("/api/v1/incidents?limit=100")).data || [];
    if (mine !== seq) return;
    renderList(box, items, tops);
    for (const inc of items.slice(0, TOP_CAUSE_FOR)) {
      if (tops.has(inc.id)) continue;
      try {
        const detail = (await getJSON(`/api/v1/incidents/${inc.id}?causes=1`)).data;
        tops.set(inc.id, (detail.causes || [])[0] || null);
      } catch {
        tops.set(inc.id, null);
      }
      if (mine !== seq) return;
      const cell = box.querySelector(`tr[data-incident="${inc.id}"] .top-cause`);
      const top = tops.get(inc.id);
      if (cell) cell.innerHTML = top ? esc(causeText(top)) : "<small>none ranked</small>";
    }
  }

  async function loadDetail(id) {
    const mine = ++seq;
    const inc = (await getJSON(`/api/v1/incidents/${encodeURIComponent(id)}`)).data;
    if (mine !== seq) return;
    renderDetail(box, inc);
  }

  const load = () => (params.id ? loadDetail(params.id) : loadList()).catch((e) => {
    box.innerHTML = `<p class="error">${esc(e.message)}</p>`;
  });

  root.addEventListener("click", async (e) => {
    const b = e.target.closest("button[data-act]");
    if (!b || !params.id) return;
    b.disabled = true;
    try {
      await postJSON(`/api/v1/incidents/${encodeURIComponent(params.id)}/${b.dataset.act}`, { by: "dashboard" });
      await load();
    } catch (err) {
      const el = root.querySelector("#act-error");
      el.hidden = false;
      el.textContent = `${b.dataset.act} failed: ${err.message}`;
      b.disabled = false;
    }
  });

  load();
  return ctx.live.on("incidents", {}, () => load());
}
