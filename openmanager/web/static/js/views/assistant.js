// Assistant (when /api/v1/assistant exists): ask a question, read the answer with its cited
// sources (each PromQL opens the explorer), and rate it thumbs up (5) or down (1).

import { postJSON } from "../api.js";

const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const EXAMPLES = ["why is db-primary-01 slow?", "what is wrong with the fleet?", "which server uses the most CPU?"];
const RATING = { up: 5, down: 1 }; // the API rates 1 (useless) to 5 (solved it)

function num(v) {
  return typeof v === "number" && Number.isFinite(v) ? v.toPrecision(4) : esc(v);
}

function sourceItem(f) {
  const isQuery = f.kind !== "alert" && f.source && !f.source.startsWith("alert");
  const src = isQuery
    ? `<a class="promql" href="#/explorer?${esc(new URLSearchParams({ q: f.source }))}"><code>${esc(f.source)}</code></a>`
    : `<code>${esc(f.source)}</code>`;
  return `<li class="source" data-ref="${esc(f.ref)}" data-kind="${esc(f.kind)}"><strong>[${esc(f.ref)}]</strong>
    ${esc(f.kind)} · ${esc(f.server)} ${esc(f.topic)} = ${num(f.value)}${f.note ? ` <small>(${esc(f.note)})</small>` : ""}<br>${src}</li>`;
}

function renderAnswer(box, data) {
  const ev = data.evidence || {};
  const facts = ev.facts || [];
  const passages = ev.passages || [];
  box.innerHTML = `
    <div class="answer" id="answer" data-id="${esc(data.id)}"><p class="answer-text">${esc(data.answer)}</p>
      <small>${esc(data.narrator || "")}${data.latency_ms != null ? ` · ${Math.round(data.latency_ms)} ms` : ""}${data.note ? ` · ${esc(data.note)}` : ""}</small></div>
    <div class="row rating" id="rating">Helpful?
      <button data-rate="up" title="rate 5 of 5">▲ helpful</button><button data-rate="down" title="rate 1 of 5">▼ not helpful</button>
      <small id="rated"></small></div>
    <h3>Sources (${facts.length})</h3>
    ${facts.length ? `<ol class="sources" id="sources">${facts.map(sourceItem).join("")}</ol>` : "<p id=\"sources\">No figures cited.</p>"}
    ${passages.length ? `<h3>Runbooks</h3><ul class="passages">${passages.map((p) => `<li><strong>${esc(p.title || p.source || "passage")}</strong>
      <small>${esc(p.source || "")}</small><br>${esc(String(p.quote || p.text || "").slice(0, 300))}</li>`).join("")}</ul>` : ""}`;
}

export function mount(root, ctx, params) {
  root.innerHTML = `
    <h2>Assistant</h2>
    <form class="explorer" id="ask">
      <textarea name="question" rows="2" placeholder="Ask about the fleet, e.g. ${esc(EXAMPLES[0])}">${esc(params.q || "")}</textarea>
      <div class="row"><button type="submit">Ask</button><small>examples: ${EXAMPLES.map((e, i) => `<a href="#" data-ex="${i}">${esc(e)}</a>`).join(" · ")}</small></div>
    </form>
    <p class="error" id="error" hidden></p>
    <div id="reply"></div>`;
  const form = root.querySelector("#ask");
  const errorEl = root.querySelector("#error");
  const reply = root.querySelector("#reply");
  let current = null;

  async function ask() {
    const question = form.question.value.trim();
    if (!question) return;
    history.replaceState(null, "", `#/assistant?${new URLSearchParams({ q: question })}`);
    errorEl.hidden = true;
    reply.innerHTML = "<p>thinking…</p>";
    form.querySelector("button[type=submit]").disabled = true;
    try {
      current = (await postJSON("/api/v1/assistant/ask", { question })).data;
      renderAnswer(reply, current);
    } catch (e) {
      reply.innerHTML = "";
      errorEl.hidden = false;
      errorEl.textContent = e.message || String(e);
    } finally {
      form.querySelector("button[type=submit]").disabled = false;
    }
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); ask(); });
  form.question.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); ask(); }
  });
  root.addEventListener("click", async (e) => {
    const ex = e.target.closest("a[data-ex]");
    if (ex) {
      e.preventDefault();
      form.question.value = EXAMPLES[+ex.dataset.ex];
      ask();
      return;
    }
    const b = e.target.closest("button[data-rate]");
    if (!b || !current) return;
    const rated = root.querySelector("#rated");
    try {
      await postJSON(`/api/v1/assistant/interactions/${encodeURIComponent(current.id)}/rating`, { rating: RATING[b.dataset.rate] });
      for (const x of root.querySelectorAll("button[data-rate]")) x.classList.toggle("on", x === b);
      rated.textContent = "thanks, rating saved";
      rated.dataset.rating = String(RATING[b.dataset.rate]);
    } catch (err) {
      rated.textContent = `rating failed: ${err.message}`;
    }
  });
  if (params.q) ask();
  return null;
}
