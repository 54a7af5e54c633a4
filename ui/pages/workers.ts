/** Worker processes: status, queues, memory, CPU, utilization, running messages (cancel), stop / restart. Polls every 2 s. */
import type { WorkerView, Workers } from "../../lib/dashboard/api-types.ts";
import { actionButton, actionsNote, capabilityOff, errorMessage } from "../actions.ts";
import { get, seg } from "../api.ts";
import { badge, h, note, replace, table } from "../dom.ts";
import { bytes, duration, relative, time } from "../format.ts";
import { poll } from "../poll.ts";
import { type Page } from "../router.ts";

const STATUS_KIND = { live: "ok", stopping: "warn", stopped: "muted", dead: "bad" } as const;

function utilization(value: number): HTMLElement {
  const pct = Math.round(Math.max(0, Math.min(1, value)) * 100);
  const fill = h("span", { class: "fill" });
  fill.style.width = `${pct}%`;
  return h("span", { class: "bar", test: "utilization", title: `${pct}% busy`, role: "meter", "aria-valuenow": pct, "aria-valuemin": 0, "aria-valuemax": 100 }, fill, h("span", { class: "label" }, `${pct}%`));
}

function row(w: WorkerView, now: number, refresh: () => void): HTMLTableRowElement {
  const running = w.running.length
    ? h(
        "ul",
        { class: "running" },
        w.running.map((r) =>
          h(
            "li",
            { test: "running-message", "data-id": r.id },
            h("span", { class: "mono" }, r.actor),
            " ",
            h("span", { class: "muted small", title: `${r.queue} · ${r.id} · started ${time(r.startedAt)}` }, `${r.queue} · ${duration(r.elapsed)}`),
            " ",
            actionButton({
              label: "Cancel",
              test: "cancel-message",
              path: `messages/${seg(r.id)}/cancel`,
              capability: "cancel",
              confirm: () => ({ title: `Cancel ${r.actor}?`, body: `Asks the worker to cancel message ${r.id} (running for ${duration(r.elapsed)}).`, ok: "Cancel it", danger: true }),
              done: refresh,
            }),
          ),
        ),
      )
    : h("span", { class: "muted" }, "idle");
  const control = (what: "stop" | "restart"): HTMLButtonElement =>
    actionButton({
      label: what === "stop" ? "Stop" : "Restart",
      test: `${what}-worker`,
      path: `workers/${seg(w.id)}/${what}`,
      danger: what === "stop",
      disabledBecause: w.status !== "live" ? `The worker is ${w.status}.` : w.pendingControl ? `A ${w.pendingControl} is already pending.` : null,
      confirm: () => ({
        title: `${what === "stop" ? "Stop" : "Restart"} ${w.host}:${w.pid}?`,
        body: what === "stop" ? "The worker finishes its running messages and exits." : "The worker finishes its running messages and starts again.",
        ok: what === "stop" ? "Stop" : "Restart",
        danger: what === "stop",
      }),
      done: refresh,
    });
  return h(
    "tr",
    { test: "worker-row", "data-id": w.id },
    h("td", null, h("div", null, w.host), h("div", { class: "muted small" }, `v${w.version}`)),
    h("td", { class: "num" }, String(w.pid)),
    h("td", null, badge(w.status, STATUS_KIND[w.status], "worker-status"), w.pendingControl ? badge(`${w.pendingControl} pending`, "warn", "pending-control") : null),
    h("td", null, w.queues.join(", ")),
    h("td", { class: "num" }, bytes(w.rss)),
    h("td", { class: "num" }, `${w.cpu.toFixed(0)}%`),
    h("td", null, utilization(w.utilization), h("div", { class: "muted small" }, `${w.running.length} of ${w.concurrency}`)),
    h("td", null, running),
    h("td", { title: `started ${time(w.startedAt)}` }, relative(w.lastBeat, now)),
    h("td", null, h("div", { class: "row" }, control("stop"), control("restart"))),
  );
}

/** `#/workers` */
export const workersPage: Page = (root, ctx) => {
  const off = capabilityOff("workers");
  if (off) {
    replace(root, h("h1", null, "Workers"), note(off, "workers-off"));
    return;
  }
  const error = h("div");
  const body = h("div", null, h("p", { class: "muted" }, "Loading…"));
  const cancelOff = capabilityOff("cancel");
  replace(root, h("h1", null, "Workers"), actionsNote(), cancelOff ? note(`Cancelling: ${cancelOff}`, "cancel-off") : null, error, body);
  let refresh = (): void => undefined;
  const tick = async (): Promise<void> => {
    try {
      const data = await get<Workers>("workers");
      if (!ctx.live()) return;
      error.replaceChildren();
      // Confirmations live outside the table, so redrawing closes none; keep the sideways scroll.
      const scrolled = body.querySelector(".scroll")?.scrollLeft ?? 0;
      replace(body, table("workers", ["Host", "PID", "Status", "Queues", "RSS", "CPU", "Busy", "Running", "Last beat", ""], data.workers.map((w) => row(w, data.now, refresh)), "No worker is registered."));
      const scroller = body.querySelector(".scroll");
      if (scroller) scroller.scrollLeft = scrolled;
    } catch (e) {
      if (ctx.live()) replace(error, h("div", { class: "banner error", test: "error" }, errorMessage(e)));
    }
  };
  refresh = () => void tick();
  ctx.onLeave(poll(tick, 2000));
};
