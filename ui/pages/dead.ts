/**
 * Dead letters of one queue: reasons grouped, filter, ticked rows requeued or deleted, or every
 * matching one at once after showing how many (`{ filter, expect: N }`; a 409 means the
 * selection changed meanwhile).
 */
import type { MessagePage, ReasonGroups, Selection } from "../../lib/dashboard/api-types.ts";
import { actionBar, actionButton, actionsNote, capabilityOff, errorMessage } from "../actions.ts";
import { ApiFailure, get, query, seg } from "../api.ts";
import { h, note, replace } from "../dom.ts";
import { count } from "../format.ts";
import { filterForm, filterSummary, messageTable, pager } from "../messages.ts";
import { href, part, type Page } from "../router.ts";
import { session } from "../session.ts";
import { LIMIT } from "./queue.ts";

/** How many dead letters "all matching" would act on, or why that is not known. */
export function matchingCount(page: MessagePage, filtered: boolean): { n: number } | { why: string } {
  if (!filtered) return { n: page.total };
  if (page.filter?.complete) return { n: page.filter.matched };
  if (page.filter) return { why: "Not every dead letter was scanned, so how many match is not known: narrow the filter or tick rows." };
  return { why: "The list did not apply this filter, so how many match is not known: tick rows instead." };
}

/** `#/dead/:queue?actor=&text=&reason=&offset=` */
export const deadPage: Page = (root, ctx) => {
  const queue = ctx.params.queue;
  const path = `/dead/${part(queue)}`;
  const filter = { actor: ctx.query.get("actor") ?? "", text: ctx.query.get("text") ?? "", reason: ctx.query.get("reason") ?? "" };
  const offset = Math.max(0, Number(ctx.query.get("offset")) || 0);
  const filtered = Boolean(filter.actor || filter.text || filter.reason);
  const selectionFilter = (): NonNullable<Selection["filter"]> => {
    const f: NonNullable<Selection["filter"]> = {};
    if (filter.actor) f.actor = filter.actor;
    if (filter.text) f.text = filter.text;
    if (filter.reason) f.reason = filter.reason;
    return f;
  };

  const banner = h("div");
  const groups = h("section", { class: "panel groups", test: "reason-groups" }, h("h2", null, "Reasons"), h("p", { class: "muted" }, "Loading…"));
  const bar = h("div");
  const list = h("div", null, h("p", { class: "muted" }, "Loading…"));
  replace(
    root,
    h("p", { class: "small" }, h("a", { href: href(`/queues/${part(queue)}`, { state: "dead" }) }, `← ${queue}`)),
    h("div", { class: "title" }, h("h1", null, `Dead letters of ${queue}`)),
    actionsNote(),
    capabilityOff("deleteDeadLetters") ? note(`Deleting: ${capabilityOff("deleteDeadLetters")}`, "delete-off") : null,
    banner,
    h("div", { class: "split" }, groups, h("div", { class: "grow" }, bar, list)),
  );
  if (!session().capabilities.browse) {
    replace(list, note(session().capabilities.notes.browse ?? "This broker cannot list dead letters.", "browse-off"));
    groups.remove();
    return;
  }

  const selected = new Set<string>();
  const reload = (): void => {
    selected.clear();
    replace(banner);
    void load();
  };
  const conflict = (error: unknown): void => {
    if (error instanceof ApiFailure && error.status === 409) {
      replace(banner, h("div", { class: "banner warn", test: "selection-changed" }, "The selection changed, reload. ", h("button", { onclick: reload, test: "reload" }, "Reload")));
    }
  };

  const drawBar = (page: MessagePage): void => {
    const ids = page.messages.map((m) => m.id);
    const all = h("input", { type: "checkbox", test: "dead-select-all", checked: ids.length > 0 && ids.every((id) => selected.has(id)), "aria-label": "Select all on this page" });
    all.addEventListener("change", () => {
      for (const id of ids) {
        if (all.checked) selected.add(id);
        else selected.delete(id);
      }
      for (const box of list.querySelectorAll<HTMLInputElement>("input[data-test=dead-select]")) box.checked = all.checked;
      drawBar(page);
    });
    const none = selected.size === 0 ? "Tick dead letters first." : null;
    const matching = matchingCount(page, filtered);
    const n = "n" in matching ? matching.n : null;
    const why = "why" in matching ? matching.why : n === 0 ? "Nothing matches." : null;
    const what = filtered ? "matching" : "";
    const bulk = (verb: "requeue" | "delete"): HTMLButtonElement =>
      actionButton({
        label: `${verb === "requeue" ? "Requeue" : "Delete"} all ${n === null ? "" : `${count(n)} `}${what}`.trim(),
        test: `${verb}-matching`,
        path: `queues/${seg(queue)}/dead-letters/${verb}`,
        danger: verb === "delete",
        capability: verb === "delete" ? "deleteDeadLetters" : undefined,
        disabledBecause: why,
        body: (): Selection => ({ filter: selectionFilter(), expect: n ?? 0 }),
        confirm: () => ({
          title: `${verb === "requeue" ? "Requeue" : "Delete"} ${count(n ?? 0)} dead letters?`,
          body: `${verb === "requeue" ? "Requeues" : "Deletes"} every dead letter of ${queue}${filtered ? " matching the filter" : ""}: ${count(n ?? 0)} now. If that number has changed meanwhile, nothing is done.`,
          ok: verb === "requeue" ? `Requeue ${count(n ?? 0)}` : `Delete ${count(n ?? 0)}`,
          danger: verb === "delete",
        }),
        done: reload,
        failed: conflict,
      });
    const picked = (verb: "requeue" | "delete"): HTMLButtonElement =>
      actionButton({
        label: `${verb === "requeue" ? "Requeue" : "Delete"} selected (${selected.size})`,
        test: `${verb}-selected`,
        path: `queues/${seg(queue)}/dead-letters/${verb}`,
        danger: verb === "delete",
        capability: verb === "delete" ? "deleteDeadLetters" : undefined,
        disabledBecause: none,
        body: (): Selection => ({ ids: [...selected], expect: selected.size }),
        confirm:
          verb === "delete" ? () => ({ title: `Delete ${selected.size} dead letters?`, body: "They are gone for good.", ok: `Delete ${selected.size}`, danger: true }) : undefined,
        done: reload,
        failed: conflict,
      });
    replace(
      bar,
      actionBar(h("label", { class: "check" }, all, " all on this page"), picked("requeue"), picked("delete"), bulk("requeue"), bulk("delete")),
      why && n !== 0 ? h("p", { class: "small muted", test: "matching-note" }, why) : null,
    );
  };

  const drawGroups = (data: ReasonGroups): void => {
    replace(
      groups,
      h("h2", null, "Reasons"),
      data.groups.length === 0 ? h("p", { class: "muted" }, "No dead letter.") : null,
      h(
        "ul",
        { class: "groups-list" },
        data.groups.map((g) =>
          h(
            "li",
            { class: g.reason === filter.reason ? "active" : "" },
            h("a", { href: href(path, { actor: filter.actor, text: filter.text, reason: g.reason === filter.reason ? "" : g.reason }), test: "reason-group", title: g.reason }, h("span", { class: "reason" }, g.reason), h("span", { class: "count" }, count(g.count))),
          ),
        ),
      ),
      h("p", { class: "small muted" }, `${count(data.scanned)} scanned`),
    );
  };

  const load = async (): Promise<void> => {
    const listing = get<MessagePage>(`queues/${seg(queue)}/messages${query({ state: "dead", offset, limit: LIMIT, ...filter })}`);
    const grouped = get<ReasonGroups>(`queues/${seg(queue)}/dead-letters/groups${query({ actor: filter.actor, text: filter.text })}`);
    grouped.then(
      (data) => ctx.live() && drawGroups(data),
      (e: unknown) => ctx.live() && replace(groups, h("h2", null, "Reasons"), note(errorMessage(e))),
    );
    try {
      const page = await listing;
      if (!ctx.live()) return;
      drawBar(page);
      replace(
        list,
        filterForm(filter, (next) => (location.hash = href(path, { ...next, reason: filter.reason }))),
        filter.reason ? h("p", { class: "small", test: "reason-filter" }, "Reason: ", h("code", null, filter.reason), " ", h("a", { href: href(path, { actor: filter.actor, text: filter.text }) }, "clear")) : null,
        filterSummary(page),
        messageTable(queue, page, { selected, changed: () => drawBar(page) }),
        pager(page, (o) => href(path, { ...filter, offset: o })),
      );
    } catch (e) {
      if (ctx.live()) replace(list, h("div", { class: "banner error", test: "error" }, errorMessage(e)));
    }
  };
  void load();
};
