/** Charts over time: processed and failed, wait and run percentiles; queue / actor pickers; 60 min or 24 h. */
import type { History } from "../../lib/dashboard/api-types.ts";
import { capabilityOff, errorMessage } from "../actions.ts";
import { get, query } from "../api.ts";
import { timeChart } from "../chart.ts";
import { h, note, replace } from "../dom.ts";
import { poll } from "../poll.ts";
import { href, type Page } from "../router.ts";

function picker(label: string, test: string, values: string[], current: string, pick: (value: string) => void): HTMLElement {
  const options = [...new Set([...values, ...(current ? [current] : [])])].sort();
  const select = h("select", { test, "aria-label": label }, h("option", { value: "", selected: current === "" }, `All ${label.toLowerCase()}s`), options.map((v) => h("option", { value: v, selected: v === current }, v)));
  select.addEventListener("change", () => pick(select.value));
  return h("label", { class: "picker" }, `${label} `, select);
}

/** `#/charts?minutes=60|1440&queue=&actor=` */
export const chartsPage: Page = (root, ctx) => {
  const off = capabilityOff("history");
  if (off) {
    replace(root, h("h1", null, "Charts"), note(off, "history-off"));
    return;
  }
  const minutes = ctx.query.get("minutes") === "1440" ? 1440 : 60;
  const queue = ctx.query.get("queue") ?? "";
  const actor = ctx.query.get("actor") ?? "";
  const go = (q: Record<string, string | number>): void => void (location.hash = href("/charts", { minutes, queue, actor, ...q }));
  const pickers = h("div", { class: "row" });
  const error = h("div");
  const counts = timeChart("Processed and failed per minute", "chart-counts", [{ label: "processed", colour: "#2f7d4f" }, { label: "failed", colour: "#c0392b" }], "count");
  const percentiles = [
    { label: "p50", colour: "#3467a8" },
    { label: "p95", colour: "#d08a1e" },
    { label: "p99", colour: "#a33b8f" },
  ];
  const wait = timeChart("Wait (enqueue to start)", "chart-wait", percentiles, "ms");
  const run = timeChart("Run time", "chart-run", percentiles, "ms");
  const windowButton = (m: number, label: string): HTMLElement => h("button", { class: m === minutes ? "primary" : "", test: `window-${m}`, "aria-pressed": String(m === minutes), onclick: () => go({ minutes: m }) }, label);
  replace(
    root,
    h("div", { class: "title" }, h("h1", null, "Charts"), h("div", { class: "row segmented" }, windowButton(60, "60 min"), windowButton(1440, "24 h"))),
    pickers,
    error,
    h("div", { class: "charts" }, counts.el, wait.el, run.el),
  );
  ctx.onLeave(() => [counts, wait, run].forEach((c) => c.destroy()));
  ctx.onLeave(
    poll(async () => {
      try {
        const data = await get<History>(`history${query({ minutes, queue, actor })}`);
        if (!ctx.live()) return;
        error.replaceChildren();
        replace(pickers, picker("Queue", "pick-queue", data.queues, queue, (v) => go({ queue: v })), picker("Actor", "pick-actor", data.actors, actor, (v) => go({ actor: v })));
        const x = data.points.map((p) => p.t);
        counts.update(x, [data.points.map((p) => p.processed), data.points.map((p) => p.failed)]);
        wait.update(x, [data.points.map((p) => p.wait.p50), data.points.map((p) => p.wait.p95), data.points.map((p) => p.wait.p99)]);
        run.update(x, [data.points.map((p) => p.run.p50), data.points.map((p) => p.run.p95), data.points.map((p) => p.run.p99)]);
      } catch (e) {
        if (ctx.live()) replace(error, h("div", { class: "banner error", test: "error" }, errorMessage(e)));
      }
    }, minutes === 60 ? 30_000 : 120_000),
  );
};
