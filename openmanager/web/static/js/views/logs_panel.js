// The log panel of the server view: the server's lines over the picked range (level and text
// filters), with new lines arriving live on the `logs` channel while the range is live.

import { getJSON, probe } from "../api.js";

const MAX_ROWS = 300;
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

function row(line) {
  const t = line.time.replace("T", " ").replace("Z", "");
  return `<tr class="lvl-${esc(line.level)}"><td class="t">${esc(t)}</td><td class="lvl">${esc(line.level)}</td>` +
    `<td class="src">${esc(line.source)}</td><td class="msg">${esc(line.message)}</td></tr>`;
}

const RANK = { debug: 0, info: 1, warning: 2, error: 3, critical: 4 };

// Mounts the panel into `root` when /api/v1/logs answers; returns {reload(bounds), destroy()}.
export async function logsPanel(root, ctx, name, bounds) {
  if (!(await probe("/api/v1/logs"))) return { reload() {}, destroy() {} };
  const box = document.createElement("section");
  box.id = "logs";
  box.innerHTML = `
    <h2>Logs</h2>
    <form class="filters" id="log-filters">
      <label>level <select name="level">
        <option value="">all</option><option value="warning">warning+</option><option value="error">error+</option>
      </select></label>
      <input name="q" type="search" placeholder="text, e.g. timed out" aria-label="log text">
      <button type="submit">Search</button>
      <small id="log-count"></small>
    </form>
    <div class="logbox"><table class="logs"><tbody></tbody></table></div>`;
  root.appendChild(box);
  const body = box.querySelector("tbody");
  const form = box.querySelector("form");
  let current = bounds();
  let seq = 0;

  const filters = () => ({ level: form.level.value, q: form.q.value.trim() });

  async function reload(b) {
    current = b || current;
    const mine = ++seq;
    const f = filters();
    const params = new URLSearchParams({ server: name, start: String(current.from), end: String(current.to), limit: String(MAX_ROWS) });
    if (f.level) params.set("level", f.level);
    if (f.q) params.set("q", f.q);
    try {
      const res = await getJSON(`/api/v1/logs?${params}`);
      if (mine !== seq) return;
      body.innerHTML = res.data.lines.map(row).join("");
      box.querySelector("#log-count").textContent = `${res.data.lines.length} lines`;
    } catch (e) {
      box.querySelector("#log-count").textContent = String(e.message || e);
    }
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); reload(); });
  form.level.addEventListener("change", () => reload());

  const off = ctx.live.on("logs", { server: name }, (data) => {
    if (!bounds().live) return;
    const f = filters();
    const s = (data.servers || []).find((x) => x.name === name);
    if (!s) return;
    const q = f.q.toLowerCase();
    const fresh = s.lines.filter((l) => (!f.level || RANK[l.level] >= RANK[f.level]) && (!q || l.message.toLowerCase().includes(q)));
    if (!fresh.length) return;
    body.insertAdjacentHTML("afterbegin", fresh.reverse().map(row).join(""));
    while (body.rows.length > MAX_ROWS) body.deleteRow(body.rows.length - 1);
    box.querySelector("#log-count").textContent = `${body.rows.length} lines`;
  });
  await reload(current);
  return { reload, destroy: off };
}
