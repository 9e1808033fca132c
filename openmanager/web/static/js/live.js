// The live stream: one WebSocket (Server-Sent Events if WebSockets fail), resubscribing and
// reconnecting by itself with backoff. Views call `live.on(channel, filter, handler)`.

const MAX_BACKOFF_MS = 10000;

export class Live {
  constructor(indicator) {
    this.indicator = indicator;
    this.subs = new Map(); // channel -> {filter, handlers:Set}
    this.backoff = 500;
    this.failuresBeforeOpen = 0;
    this.mode = "websocket";
    this.socket = null;
    this.source = null;
    this.lastMessageAt = 0;
    this.connect();
  }

  setState(state, text) {
    if (!this.indicator) return;
    this.indicator.dataset.state = state;
    this.indicator.textContent = text || state;
  }

  on(channel, filter, handler) {
    let sub = this.subs.get(channel);
    if (!sub) {
      sub = { filter: filter || {}, handlers: new Set() };
      this.subs.set(channel, sub);
    }
    sub.filter = filter || {};
    sub.handlers.add(handler);
    this.sendSubscribe(channel);
    return () => {
      sub.handlers.delete(handler);
      if (sub.handlers.size === 0) {
        this.subs.delete(channel);
        this.send({ action: "unsubscribe", channel });
        if (this.mode === "sse") this.reopenSse();
      }
    };
  }

  sendSubscribe(channel) {
    const sub = this.subs.get(channel);
    if (!sub) return;
    if (this.mode === "sse") this.reopenSse();
    else this.send({ action: "subscribe", channel, filter: sub.filter });
  }

  send(msg) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(msg));
  }

  connect() {
    if (this.mode === "sse") return this.reopenSse();
    const proto = location.protocol === "https:" ? "wss" : "ws";
    let opened = false;
    this.setState("connecting", "connecting");
    // Updates come zlib-compressed (once on the server for every client) where the browser
    // can inflate them; frames are decoded in arrival order.
    const deflate = typeof DecompressionStream === "function";
    const query = deflate ? "?encoding=deflate" : "";
    const ws = new WebSocket(`${proto}://${location.host}/api/v1/stream${query}`);
    ws.binaryType = "blob";
    let decoded = Promise.resolve();
    this.socket = ws;
    ws.onopen = () => {
      opened = true;
      this.failuresBeforeOpen = 0;
      this.backoff = 500;
      this.setState("live", "live");
      for (const channel of this.subs.keys()) this.sendSubscribe(channel);
    };
    ws.onmessage = (e) => {
      decoded = decoded
        .then(() => (typeof e.data === "string" ? e.data : inflate(e.data)))
        .then((text) => this.dispatch(text))
        .catch((err) => console.warn("stream:", err));
    };
    ws.onclose = () => {
      if (this.socket !== ws) return;
      this.socket = null;
      if (!opened && ++this.failuresBeforeOpen >= 3) {
        this.mode = "sse";
        return this.reopenSse();
      }
      this.retry();
    };
  }

  retry() {
    this.setState("reconnecting", "reconnecting…");
    const wait = this.backoff;
    this.backoff = Math.min(MAX_BACKOFF_MS, this.backoff * 2);
    setTimeout(() => this.connect(), wait);
  }

  reopenSse() {
    if (this.source) this.source.close();
    this.source = null;
    const channels = [...this.subs.keys()];
    if (!channels.length) return;
    const filter = this.subs.get(channels[0]).filter || {};
    const params = new URLSearchParams({ channel: channels.join(","), ...filter });
    const src = new EventSource(`/api/v1/stream/sse?${params}`);
    this.source = src;
    src.onopen = () => this.setState("live", "live (SSE)");
    src.onmessage = (e) => this.dispatch(e.data);
    src.onerror = () => this.setState("reconnecting", "reconnecting…"); // EventSource retries itself
  }

  dispatch(text) {
    this.lastMessageAt = Date.now();
    let msg;
    try { msg = JSON.parse(text); } catch { return; }
    if (msg.type === "update") {
      const sub = this.subs.get(msg.channel);
      if (!sub) return;
      for (const handler of sub.handlers) {
        for (const ev of msg.events) handler(ev.data, ev);
      }
    } else if (msg.type === "dropped") {
      // The server dropped us from a slow channel: subscribe again (fresh state follows).
      setTimeout(() => this.sendSubscribe(msg.channel), 1000);
    } else if (msg.type === "error") {
      console.warn("stream:", msg.message);
    }
  }
}

/** The text of a zlib-compressed binary frame. */
function inflate(blob) {
  return new Response(blob.stream().pipeThrough(new DecompressionStream("deflate"))).text();
}
