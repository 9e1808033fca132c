// The dashboard shell: hash router, the live stream, and optional panels that appear when the
// API serves their data source (e.g. /api/v1/alerts once alerting is configured).

import { probe } from "./api.js";
import { Live } from "./live.js";

const VIEWS = {
  overview: () => import("./views/overview.js"),
  server: () => import("./views/server.js"),
  explorer: () => import("./views/explorer.js"),
  alerts: () => import("./views/alerts.js"),
  anomalies: () => import("./views/anomalies.js"),
  incidents: () => import("./views/incidents.js"),
  assistant: () => import("./views/assistant.js"),
};

const root = document.getElementById("view");
const live = new Live(document.getElementById("conn"));
const ctx = { live, sources: {} };
let unmount = null;
let routeSeq = 0;

function parseHash() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, query] = hash.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const params = Object.fromEntries(new URLSearchParams(query || ""));
  if (parts[0] === "server" && parts[1]) return { view: "server", params: { ...params, name: parts[1] } };
  if (parts[0] && VIEWS[parts[0]]) return { view: parts[0], params };
  return { view: "overview", params };
}

async function route() {
  const seq = ++routeSeq;
  const { view, params } = parseHash();
  const mod = await VIEWS[view]();
  if (seq !== routeSeq) return;
  if (unmount) unmount();
  root.innerHTML = "";
  root.dataset.view = view;
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("on", a.dataset.view === view);
  unmount = mod.mount(root, ctx, params) || null;
}

async function probeSources() {
  for (const a of document.querySelectorAll("#nav a[data-source]")) {
    const ok = await probe(a.dataset.source);
    ctx.sources[a.dataset.view] = ok;
    a.hidden = !ok;
  }
}

window.addEventListener("hashchange", route);
window.__om = ctx;
route();
setTimeout(probeSources, 1500); // after the first view's own requests
setInterval(probeSources, 60000);
