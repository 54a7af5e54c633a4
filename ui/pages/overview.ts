/** Overview: every queue's counts, oldest age, consumers, badges and sparklines; worker counts. Polls every 2 s. */
import type { Overview, QueueSummary } from "../../lib/dashboard/api-types.ts";
import { errorMessage } from "../actions.ts";
import { get } from "../api.ts";
import { badge, h, note, replace } from "../dom.ts";
import { count, duration } from "../format.ts";
import { poll } from "../poll.ts";
import { href, part, type Page } from "../router.ts";
import { session } from "../session.ts";
import { sparkline, type Spark } from "../spark.ts";

const HEAD = ["Queue", "Ready", "Delayed", "Running", "Dead", "Oldest", "Consumers", "Processed/min", "Failed/min", "Status"];

interface Row {
  tr: HTMLTableRowElement;
  cells: HTMLElement[];
  processed: Spark;
  failed: Spark;
}

function makeRow(q: QueueSummary): Row {
  const processed = sparkline("processed", "spark-processed");
  const failed = sparkline("failed", "spark-failed");
  const cells = HEAD.map(() => h("td"));
  const tr = h("tr", { test: "queue-row", "data-queue": q.name }, cells);
  cells[0].appendChild(h("a", { href: href(`/queues/${part(q.name)}`), test: "queue-link" }, q.name));
  cells[7].appendChild(processed.el);
  cells[8].appendChild(failed.el);
  for (const i of [1, 2, 3, 4, 5, 6]) cells[i].className = "num";
  return { tr, cells, processed, failed };
}

function fill(row: Row, q: QueueSummary): void {
  const [, ready, delayed, running, dead, oldest, consumers, , , status] = row.cells;
  ready.textContent = count(q.ready);
  delayed.textContent = count(q.delayed);
  running.textContent = count(q.running);
  dead.replaceChildren(q.dead > 0 ? h("a", { href: href(`/dead/${part(q.name)}`), test: "dead-link" }, count(q.dead)) : "0");
  oldest.textContent = q.oldestAge === null ? "—" : duration(q.oldestAge);
  consumers.textContent = q.consumers === null ? "—" : String(q.consumers);
  row.processed.update(q.processed);
  row.failed.update(q.failed);
  status.replaceChildren(
    ...(q.paused ? [badge("paused", "warn", "paused-badge")] : []),
    ...q.warnings.filter((w) => !(q.paused && w.code === "paused")).map((w) => badge(w.code.replace(/_/g, " "), w.code === "paused" ? "warn" : "bad", "warning-badge", w.message)),
  );
}

/** `#/` */
export const overviewPage: Page = (root, ctx) => {
  const workers = h("div", { class: "cards", test: "worker-counts" });
  const tbody = h("tbody");
  const error = h("div");
  const updated = h("span", { class: "muted small", test: "updated" });
  replace(
    root,
    h("div", { class: "title" }, h("h1", null, "Queues"), updated),
    error,
    h("div", { class: "scroll" }, h("table", { test: "queues" }, h("thead", null, h("tr", null, HEAD.map((t) => h("th", null, t)))), tbody)),
    h("h2", null, "Workers"),
    workers,
  );
  const rows = new Map<string, Row>();
  ctx.onLeave(() => {
    for (const row of rows.values()) {
      row.processed.destroy();
      row.failed.destroy();
    }
  });
  const draw = (data: Overview): void => {
    const seen = new Set<string>();
    for (const q of data.queues) {
      seen.add(q.name);
      let row = rows.get(q.name);
      if (!row) rows.set(q.name, (row = makeRow(q)));
      fill(row, q);
      tbody.appendChild(row.tr); // keeps the server's order
    }
    for (const [name, row] of rows) {
      if (seen.has(name)) continue;
      row.processed.destroy();
      row.failed.destroy();
      row.tr.remove();
      rows.delete(name);
    }
    if (data.queues.length === 0) replace(tbody, h("tr", null, h("td", { colspan: HEAD.length, class: "muted" }, "No queues yet.")));
    else tbody.querySelector("tr:not([data-queue])")?.remove();
    if (data.workers === null) replace(workers, note(session().capabilities.notes.workers ?? "No worker registry: worker counts are unknown.", "workers-off"));
    else
      replace(
        workers,
        (["live", "stopping", "dead"] as const).map((k) =>
          h("a", { class: `card ${k}`, href: "#/workers", test: `workers-${k}` }, h("strong", null, String(data.workers?.[k] ?? 0)), h("span", null, k)),
        ),
      );
    updated.textContent = `updated ${new Date(data.now).toLocaleTimeString()}`;
  };
  ctx.onLeave(
    poll(async () => {
      try {
        const data = await get<Overview>("overview");
        if (!ctx.live()) return;
        error.replaceChildren();
        draw(data);
      } catch (e) {
        if (ctx.live()) replace(error, h("div", { class: "banner error", test: "error" }, errorMessage(e)));
      }
    }, 2000),
  );
};
