/** Tiny per-minute sparklines (uPlot, no axes, no cursor) for the overview. */
import uPlot from "uplot";
import { h } from "./dom.ts";

/** A sparkline that can be given new values. */
export interface Spark {
  el: HTMLElement;
  update(values: number[]): void;
  destroy(): void;
}

/** A sparkline of per-minute values (oldest first); `kind` colours it. */
export function sparkline(kind: "processed" | "failed", test: string): Spark {
  const el = h("span", { class: `spark ${kind}`, test });
  const empty = h("span", { class: "muted" }, "—");
  let plot: uPlot | null = null;
  let last: string | null = null;
  const colour = kind === "failed" ? "#c0392b" : "#2f7d4f";
  return {
    el,
    update(values) {
      const key = values.join(",");
      if (key === last) return;
      last = key;
      el.title = values.length ? `${kind}: ${values.reduce((a, b) => a + b, 0)} in the last ${values.length} min` : `${kind}: no history`;
      if (values.length === 0) {
        plot?.destroy();
        plot = null;
        el.replaceChildren(empty);
        return;
      }
      const data: uPlot.AlignedData = [values.map((_, i) => i), values];
      if (plot) {
        plot.setData(data);
        return;
      }
      el.replaceChildren();
      plot = new uPlot(
        {
          width: 96,
          height: 24,
          pxAlign: false,
          cursor: { show: false },
          legend: { show: false },
          select: { show: false, left: 0, top: 0, width: 0, height: 0 },
          scales: { x: { time: false }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
          axes: [{ show: false }, { show: false }],
          series: [{}, { stroke: colour, fill: `${colour}33`, width: 1, points: { show: false } }],
        },
        data,
        el,
      );
    },
    destroy() {
      plot?.destroy();
      plot = null;
    },
  };
}
