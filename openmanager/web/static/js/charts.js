// uPlot time-series charts: sized to their box, cursor-synced, drag to zoom (the view refetches
// the zoomed range at finer resolution), with shaded bands and vertical markers for events.

export const PALETTE = ["#3b82f6", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#ec4899", "#84cc16", "#f97316", "#64748b"];

let firstChartMarked = false;

export function fmtValue(v, unit) {
  if (v == null || Number.isNaN(v)) return "–";
  if (unit === "%") return `${v.toFixed(1)}%`;
  if (unit === "ms") return v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(v < 10 ? 1 : 0)} ms`;
  if (unit === "B/s") {
    const k = ["B/s", "KB/s", "MB/s", "GB/s"];
    let i = 0;
    while (Math.abs(v) >= 1000 && i < k.length - 1) { v /= 1000; i++; }
    return `${v.toFixed(v < 10 ? 1 : 0)} ${k[i]}`;
  }
  const a = Math.abs(v);
  if (a >= 1e9) return `${(v / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (a >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return a >= 10 || v === 0 ? v.toFixed(0) : v.toPrecision(3);
}

// Draws `bands` ([{from, to, label, color}]) and `marks` ([{at, label, color}]) under the series.
function eventsPlugin(chart) {
  return {
    hooks: {
      drawClear: [
        (u) => {
          const { ctx, bbox } = u;
          ctx.save();
          for (const b of chart.bands) {
            const x0 = Math.max(bbox.left, u.valToPos(b.from, "x", true));
            const x1 = Math.min(bbox.left + bbox.width, u.valToPos(b.to, "x", true));
            if (x1 <= x0) continue;
            ctx.fillStyle = b.color || "rgba(239,68,68,0.12)";
            ctx.fillRect(x0, bbox.top, x1 - x0, bbox.height);
          }
          for (const m of chart.marks) {
            const x = u.valToPos(m.at, "x", true);
            if (x < bbox.left || x > bbox.left + bbox.width) continue;
            ctx.strokeStyle = m.color || "#ef4444";
            ctx.lineWidth = 2 * devicePixelRatio;
            ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
            ctx.beginPath();
            ctx.moveTo(x, bbox.top);
            ctx.lineTo(x, bbox.top + bbox.height);
            ctx.stroke();
          }
          ctx.restore();
        },
      ],
    },
  };
}

export class Chart {
  // opts: {title, unit, onZoom(min, max), height}
  constructor(container, opts) {
    this.opts = opts;
    this.bands = [];
    this.marks = [];
    this.plot = null;
    this.names = null;
    this.box = document.createElement("section");
    this.box.className = "chart";
    this.box.dataset.points = "0";
    this.box.innerHTML = `<h3>${opts.title}</h3><div class="plot"></div><p class="empty">loading…</p>`;
    container.appendChild(this.box);
    this.plotEl = this.box.querySelector(".plot");
    this.emptyEl = this.box.querySelector(".empty");
    this.resize = new ResizeObserver(() => this.fit());
    this.resize.observe(this.box);
  }

  width() {
    return Math.max(240, this.box.clientWidth - 16);
  }

  fit() {
    if (this.plot) this.plot.setSize({ width: this.width(), height: this.opts.height || 200 });
  }

  // specs: [{name, color?, dash?}] — dashed series are drawn thinner (forecast intervals)
  build(specs) {
    if (this.plot) this.plot.destroy();
    const unit = this.opts.unit;
    const chart = this;
    this.names = specs.map((s) => s.name).join("\u0000");
    this.plot = new uPlot(
      {
        width: this.width(),
        height: this.opts.height || 200,
        cursor: {
          sync: { key: this.opts.syncKey || "om" },
          drag: { x: true, y: false, setScale: !this.opts.onZoom },
        },
        legend: { live: true },
        scales: { x: { time: true }, y: unit === "%" ? { range: (u, mn, mx) => [0, Math.max(100, mx || 0)] } : {} },
        axes: [{}, { size: 84, values: (u, ticks) => ticks.map((t) => fmtValue(t, unit)) }],
        series: [
          {},
          ...specs.map((spec, i) => ({
            label: spec.name,
            stroke: spec.color || PALETTE[i % PALETTE.length],
            width: spec.dash ? 1 : 1.5,
            dash: spec.dash ? [4, 4] : undefined,
            spanGaps: !!spec.spanGaps,
            value: (u, v) => fmtValue(v, unit),
          })),
        ],
        hooks: {
          setSelect: [
            (u) => {
              if (!chart.opts.onZoom || u.select.width < 4) return;
              const min = u.posToVal(u.select.left, "x");
              const max = u.posToVal(u.select.left + u.select.width, "x");
              u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
              chart.opts.onZoom(min, max);
            },
          ],
        },
        plugins: [eventsPlugin(chart)],
      },
      [[]],
      this.plotEl,
    );
  }

  // data: {x, series:[{name, values, color?, dash?, spanGaps?}]}
  setData(data) {
    const names = data.series.map((s) => s.name);
    if (!this.plot || this.names !== names.join("\u0000")) this.build(data.series);
    this.plot.setData([data.x, ...data.series.map((s) => s.values)]);
    let points = 0;
    for (const s of data.series) for (const v of s.values) if (v != null) points++;
    this.box.dataset.points = String(points);
    this.emptyEl.textContent = points ? "" : "no data in this range";
    this.emptyEl.hidden = points > 0;
    if (points && !firstChartMarked) {
      firstChartMarked = true;
      performance.mark("om-first-chart");
    }
  }

  setEvents(bands, marks) {
    this.bands = bands || [];
    this.marks = marks || [];
    if (this.plot) this.plot.redraw(false);
  }

  error(message) {
    this.emptyEl.hidden = false;
    this.emptyEl.textContent = message;
    this.box.dataset.error = message;
  }

  destroy() {
    this.resize.disconnect();
    if (this.plot) this.plot.destroy();
    this.box.remove();
  }
}
