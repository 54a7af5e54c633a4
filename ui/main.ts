/** The dashboard's single page: header, nav, and the page the hash names. */
import { errorMessage } from "./actions.ts";
import { h, replace } from "./dom.ts";
import { renderHeader } from "./header.ts";
import { chartsPage } from "./pages/charts.ts";
import { deadPage } from "./pages/dead.ts";
import { messagePage } from "./pages/message.ts";
import { overviewPage } from "./pages/overview.ts";
import { queuePage } from "./pages/queue.ts";
import { schedulesPage } from "./pages/schedules.ts";
import { workersPage } from "./pages/workers.ts";
import { startRouter, type Page, type Route } from "./router.ts";
import { loadSession, onSession } from "./session.ts";

const NAV: [nav: string, label: string, hash: string][] = [
  ["overview", "Overview", "#/"],
  ["workers", "Workers", "#/workers"],
  ["schedules", "Schedules", "#/schedules"],
  ["charts", "Charts", "#/charts"],
];

const ROUTES: Route[] = [
  { pattern: "/", page: overviewPage, nav: "overview" },
  { pattern: "/queues/:queue", page: queuePage, nav: "overview" },
  { pattern: "/queues/:queue/messages/:id", page: messagePage, nav: "overview" },
  { pattern: "/dead/:queue", page: deadPage, nav: "overview" },
  { pattern: "/workers", page: workersPage, nav: "workers" },
  { pattern: "/schedules", page: schedulesPage, nav: "schedules" },
  { pattern: "/charts", page: chartsPage, nav: "charts" },
];

const notFound: Page = (root) => replace(root, h("h1", null, "Not found"), h("p", null, "No such page. ", h("a", { href: "#/" }, "Back to the overview")));

async function start(): Promise<void> {
  const header = document.getElementById("header") as HTMLElement;
  const nav = document.getElementById("nav") as HTMLElement;
  const main = document.getElementById("main") as HTMLElement;
  const links = NAV.map(([key, label, hash]) => h("a", { href: hash, test: `nav-${key}`, "data-nav": key }, label));
  replace(nav, links);
  try {
    const first = await loadSession();
    renderHeader(header, first);
  } catch (error) {
    replace(main, h("div", { class: "banner error", test: "load-error" }, `The dashboard cannot load its session: ${errorMessage(error)} `, h("button", { onclick: () => location.reload() }, "Retry")));
    return;
  }
  const redraw = startRouter(main, ROUTES, notFound, (current) => {
    for (const link of links) link.classList.toggle("active", link.dataset.nav === current);
  });
  onSession((next) => {
    renderHeader(header, next);
    redraw();
  });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => void start());
else void start();
