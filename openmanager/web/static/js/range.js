// Time range picker: relative ranges that follow "now", or an absolute range from zoom/inputs.

export const RELATIVE = { "15m": 900, "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800 };

export class RangePicker {
  // onChange(range) where range = {relative: "1h"} or {from, to} (Unix seconds)
  constructor(container, initial, onChange) {
    this.range = initial || { relative: "1h" };
    this.onChange = onChange;
    this.el = document.createElement("div");
    this.el.className = "range";
    const buttons = Object.keys(RELATIVE)
      .map((k) => `<button type="button" data-range="${k}">${k}</button>`)
      .join("");
    this.el.innerHTML = `${buttons}
      <label>from <input type="datetime-local" name="from" step="60"></label>
      <label>to <input type="datetime-local" name="to" step="60"></label>
      <button type="button" data-apply>apply</button>`;
    container.appendChild(this.el);
    this.el.addEventListener("click", (e) => {
      const b = e.target.closest("button");
      if (!b) return;
      if (b.dataset.range) this.set({ relative: b.dataset.range });
      if (b.hasAttribute("data-apply")) {
        const from = Date.parse(this.el.querySelector("[name=from]").value) / 1000;
        const to = Date.parse(this.el.querySelector("[name=to]").value) / 1000;
        if (from < to) this.set({ from, to });
      }
    });
    this.paint();
  }

  set(range) {
    this.range = range;
    this.paint();
    this.onChange(range);
  }

  bounds() {
    if (this.range.relative) {
      const to = Date.now() / 1000;
      return { from: to - RELATIVE[this.range.relative], to, live: true };
    }
    return { from: this.range.from, to: this.range.to, live: false };
  }

  paint() {
    for (const b of this.el.querySelectorAll("button[data-range]")) {
      b.classList.toggle("on", b.dataset.range === this.range.relative);
    }
    const { from, to } = this.bounds();
    const local = (s) => {
      const d = new Date(s * 1000);
      return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
    };
    this.el.querySelector("[name=from]").value = local(from);
    this.el.querySelector("[name=to]").value = local(to);
  }
}
