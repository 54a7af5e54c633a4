/** A time-series chart (uPlot) that follows its container's width. */
import uPlot from "uplot";
import { h } from "./dom.ts";
import { axisDuration, duration } from "./format.ts";

/** One line. */
export interface Line {
  label: string;
  colour: string;
}

/** A chart that can be given new data. */
export interface Chart {
  el: HTMLElement;
  /** `x` in epoch ms; each of `ys` one line's values (null = gap). */
  update(x: number[], ys: (number | null)[][]): void;
  destroy(): void;
}

/** A chart of `lines`; `unit` "ms" formats the y axis as durations. */
export function timeChart(title: string, test: string, lines: Line[], unit: "count" | "ms"): Chart {
  const box = h("div", { class: "chart-box" });
  const el = h("section", { class: "panel chart", test }, h("h2", null, title), box);
  let plot: uPlot | null = null;
  const width = (): number => Math.max(280, box.clientWidth || 600);
  const resize = (): void => plot?.setSize({ width: width(), height: 220 });
  window.addEventListener("resize", resize);
  const value = (v: number | null): string => (v === null ? "—" : unit === "ms" ? duration(v) : String(v));
  return {
    el,
    update(x, ys) {
      const data: uPlot.AlignedData = [x.map((t) => t / 1000), ...ys];
      if (plot) {
        plot.setData(data);
        return;
      }
      plot = new uPlot(
        {
          width: width(),
          height: 220,
          cursor: { drag: { x: false, y: false } },
          scales: { y: { range: (_u, _min, max) => [0, Math.max(unit === "ms" ? 10 : 1, max)] } },
          axes: [{}, { size: 60, values: (_u, splits) => splits.map((v) => (unit === "ms" ? axisDuration(v) : String(v))) }],
          series: [{}, ...lines.map((l) => ({ label: l.label, stroke: l.colour, width: 1.5, spanGaps: false, points: { show: false }, value: (_u: uPlot, v: number | null) => value(v) }))],
        },
        data,
        box,
      );
    },
    destroy() {
      window.removeEventListener("resize", resize);
      plot?.destroy();
      plot = null;
    },
  };
}
