/** Periodic actors: expression and description, next / last run, paused; pause / resume / run now. */
import type { ScheduleView, Schedules } from "../../lib/dashboard/api-types.ts";
import { actionButton, actionsNote, capabilityOff, errorMessage } from "../actions.ts";
import { get, seg } from "../api.ts";
import { badge, h, note, replace, table } from "../dom.ts";
import { relative, time } from "../format.ts";
import { poll } from "../poll.ts";
import { type Page } from "../router.ts";

/** A time on one line, how far from now under it. */
function when(epoch: number | null, now: number, none: string): (HTMLElement | string)[] | string {
  return epoch === null ? none : [h("div", { class: "nowrap" }, time(epoch)), h("div", { class: "muted small" }, relative(epoch, now))];
}

function row(s: ScheduleView, refresh: () => void): HTMLTableRowElement {
  const now = Date.now();
  const path = `schedules/${seg(s.actor)}`;
  return h(
    "tr",
    { test: "schedule-row", "data-actor": s.actor },
    h("td", null, h("div", { class: "mono" }, s.actor), h("div", { class: "muted small" }, s.queue)),
    h("td", null, h("code", { class: "nowrap" }, s.schedule), h("div", { class: "small" }, s.description)),
    h("td", { title: s.next.map((t) => time(t)).join("\n") }, when(s.next.length ? s.next[0] : null, now, "—")),
    h("td", null, when(s.lastTick, now, "never")),
    h("td", null, s.paused ? badge("paused", "warn", "schedule-paused") : badge("active", "ok"), s.catchUp ? badge("catch-up", "muted", undefined, "Missed runs are caught up") : null),
    h(
      "td",
      null,
      h(
        "div",
        { class: "row" },
        s.paused
          ? actionButton({ label: "Resume", test: "resume-schedule", path: `${path}/resume`, done: refresh })
          : actionButton({ label: "Pause", test: "pause-schedule", path: `${path}/pause`, done: refresh }),
        actionButton({ label: "Run now", test: "run-schedule", path: `${path}/run`, done: refresh }),
      ),
    ),
  );
}

/** `#/schedules` */
export const schedulesPage: Page = (root, ctx) => {
  const off = capabilityOff("schedules");
  if (off) {
    replace(root, h("h1", null, "Schedules"), note(off, "schedules-off"));
    return;
  }
  const body = h("div", null, h("p", { class: "muted" }, "Loading…"));
  replace(root, h("h1", null, "Schedules"), actionsNote(), body);
  let refresh = (): void => undefined;
  const tick = async (): Promise<void> => {
    try {
      const data = await get<Schedules>("schedules");
      if (ctx.live()) replace(body, table("schedules", ["Actor", "Schedule", "Next run", "Last run", "State", ""], data.schedules.map((s) => row(s, refresh)), "No periodic actor."));
    } catch (e) {
      if (ctx.live()) replace(body, h("div", { class: "banner error", test: "error" }, errorMessage(e)));
    }
  };
  refresh = () => void tick();
  ctx.onLeave(poll(tick, 10_000));
};
