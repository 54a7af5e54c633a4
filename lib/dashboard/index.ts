/**
 * The web dashboard, for mounting in an app: `import { dashboard } from "dramats/dashboard"`.
 *
 * `dashboard({ broker, token, redact })` returns a Node `(req, res, next?)` handler that serves
 * the pages and the JSON API under `api/`; the API's answers are typed below (see
 * {@link SessionInfo} and the routes listed in its module).
 *
 * @module
 */
export { dashboard, type DashboardHandler, type DashboardOptions } from "./handler.ts";
export type { RedactHook } from "./views.ts";
export type {
  ActionResult,
  ApiError,
  Capabilities,
  History,
  HistoryPoint,
  MessageDetail,
  MessagePage,
  MessageState,
  MessageSummary,
  Overview,
  Percentiles,
  QueueSummary,
  ReasonGroups,
  ScheduleView,
  Schedules,
  Selection,
  SessionInfo,
  Warning,
  WorkerView,
  Workers,
} from "./api-types.ts";
