/**
 * The dashboard's JSON API: what each route under `/api/` answers. The pages (ui/) read only
 * these shapes; scripts may use them too. Times are epoch ms, durations ms. Every error is
 * `{ error: { code, message } }` with a 4xx/5xx status (see {@link ApiError}).
 *
 * Routes (GET unless marked POST; every POST needs the `x-csrf-token` header from `/api/session`
 * and, unless the dashboard was given no operator token, an operator session):
 * - `GET  /api/session`                                   → {@link SessionInfo}
 * - `POST /api/login` `{ token }`                         → {@link SessionInfo} (sets the session cookie)
 * - `POST /api/logout`                                    → {@link SessionInfo}
 * - `GET  /api/overview`                                  → {@link Overview}
 * - `GET  /api/queues/:queue/messages?state=&offset=&limit=&actor=&text=&reason=` → {@link MessagePage}
 * - `GET  /api/queues/:queue/messages/:id?state=`         → {@link MessageDetail}
 * - `GET  /api/queues/:queue/dead-letters/groups?actor=&text=` → {@link ReasonGroups}
 * - `POST /api/queues/:queue/dead-letters/requeue` {@link Selection} → {@link ActionResult}
 * - `POST /api/queues/:queue/dead-letters/delete`  {@link Selection} → {@link ActionResult}
 * - `POST /api/queues/:queue/pause` | `/resume`           → {@link ActionResult}
 * - `POST /api/queues/:queue/purge` `{ confirm: queue }`  → {@link ActionResult}
 * - `GET  /api/workers`                                   → {@link Workers}
 * - `POST /api/workers/:id/stop` | `/restart`             → {@link ActionResult}
 * - `POST /api/messages/:id/cancel`                       → {@link ActionResult}
 * - `GET  /api/schedules`                                 → {@link Schedules}
 * - `POST /api/schedules/:actor/pause` | `/resume` | `/run` → {@link ActionResult}
 * - `GET  /api/history?minutes=60|1440&queue=&actor=`      → {@link History}
 */

/** The body of every error answer. */
export interface ApiError {
  /** What went wrong. */
  error: {
    /** Stable, machine-readable: `not_found`, `conflict`, `bad_request`, `read_only`, `forbidden`, `csrf`, `unsupported`, `unavailable`, `internal`. */
    code: string;
    /** For people. */
    message: string;
  };
}

/** `GET /api/session`: what this browser may do. */
export interface SessionInfo {
  /** True when no operator token is configured: every action is refused. */
  readOnly: boolean;
  /** True when this request carries a valid operator session (always false when `readOnly`). */
  operator: boolean;
  /** Send as `x-csrf-token` with every POST. */
  csrf: string;
  /** The broker, password masked: `RedisBroker redis://:***@host:6379/0`. */
  broker: string;
  /** The dashboard's mount path (`""` at the root, `/jobs` under Express at /jobs). */
  base: string;
  /** What this broker lets the dashboard do. */
  capabilities: Capabilities;
  /** The dramats version. */
  version: string;
}

/** What the broker (and its middleware) let the dashboard show and do. */
export interface Capabilities {
  /** Messages can be listed without consuming them (false on RabbitMQ). */
  browse: boolean;
  /** Dead letters can be deleted one by one. */
  deleteDeadLetters: boolean;
  /** Queues can be paused fleet-wide (needs a shared store). */
  pause: boolean;
  /** Workers are listed (a worker registry is reachable). */
  workers: boolean;
  /** Running messages can be cancelled (the Cancellation middleware is configured). */
  cancel: boolean;
  /** Schedules are known (the modules were given and have a Scheduler). */
  schedules: boolean;
  /** Charts over time (a history store is reachable). */
  history: boolean;
  /** Why a capability is off, for the page to say: `{ browse: "RabbitMQ cannot ..." }`. */
  notes: Partial<Record<Exclude<keyof Capabilities, "notes">, string>>;
}

/** One queue on the overview. */
export interface QueueSummary {
  /** The queue's name. */
  name: string;
  /** Messages waiting to run. */
  ready: number;
  /** Messages waiting for their eta (delays and retries). */
  delayed: number;
  /** Fetched by a consumer and not settled. */
  running: number;
  /** Dead letters. */
  dead: number;
  /** Age of the oldest ready message (ms); null when none is ready or the broker cannot tell. */
  oldestAge: number | null;
  /** Worker processes consuming it now (from the registry); null when unknown. */
  consumers: number | null;
  /** Paused fleet-wide. */
  paused: boolean;
  /** Processed per minute over the last 60 minutes, oldest first (60 numbers; empty without history). */
  processed: number[];
  /** Failed per minute over the last 60 minutes, oldest first. */
  failed: number[];
  /** Only when something is wrong: see {@link Warning}. */
  warnings: Warning[];
}

/** A badge on the overview. */
export interface Warning {
  /** What is wrong, machine-readable. */
  code: "no_consumers" | "backlog_growing" | "dead_letters_growing" | "stalled" | "paused";
  /** For people. */
  message: string;
}

/** `GET /api/overview`. */
export interface Overview {
  /** The server's clock (epoch ms), for ages. */
  now: number;
  /** Every queue known: declared, given, or consumed by a worker. */
  queues: QueueSummary[];
  /** Worker process counts by status; null without a registry. */
  workers: {
    /** Beating and consuming. */
    live: number;
    /** Finishing their messages before they exit. */
    stopping: number;
    /** No beat for too long. */
    dead: number;
  } | null;
}

/** A message's state in its queue. */
export type MessageState = "ready" | "delayed" | "dead";

/** A message as listed. Bodies that do not decode have `malformed` set and only `raw`. */
export interface MessageSummary {
  /** The message id (or the broker's id for a body that does not decode). */
  id: string;
  /** Where it is: ready, delayed or dead. */
  state: MessageState;
  /** Actor name; null when malformed. */
  actor: string | null;
  /** Positional arguments, after the redact hook; null when malformed. */
  args: unknown[] | null;
  /** Keyword arguments (Python Dramatiq's), after the redact hook; null when malformed. */
  kwargs: Record<string, unknown> | null;
  /** When it was first enqueued. */
  enqueuedAt: number | null;
  /** Delayed: when it becomes ready. */
  eta: number | null;
  /** Retries so far. */
  retries: number;
  /** Dead: why. */
  reason: string | null;
  /** Dead: when. */
  deadAt: number | null;
  /** Why it does not decode, when it does not. */
  malformed: string | null;
  /** The stored bytes as text (escaped by the page), cut to 4 KiB; only for malformed messages in lists. */
  raw: string | null;
}

/** `GET /api/queues/:queue/messages`. Paging is done in the broker. */
export interface MessagePage {
  /** The queue listed. */
  queue: string;
  /** The state listed. */
  state: MessageState;
  /** Messages skipped before this page. */
  offset: number;
  /** The page's size asked for (at most 500). */
  limit: number;
  /** Messages in this state (all of them, whatever the filter). */
  total: number;
  /** This page's messages, in queue order. */
  messages: MessageSummary[];
  /**
   * With `actor`, `text` or `reason`: how many matched among those scanned, and whether every
   * message was scanned. `offset` and `limit` then count matching messages.
   */
  filter: {
    /** The actor filter, or null. */
    actor: string | null;
    /** The text searched for in arguments and options (any case), or null. */
    text: string | null;
    /** The first line of a dead letter's reason, or null. */
    reason: string | null;
    /** Messages that matched among those scanned. */
    matched: number;
    /** Messages scanned. */
    scanned: number;
    /** Every message of the state was scanned. */
    complete: boolean;
  } | null;
}

/** `GET /api/queues/:queue/messages/:id`. */
export interface MessageDetail extends MessageSummary {
  /** The queue it is in. */
  queue: string;
  /** The whole message as JSON (after the redact hook); null when malformed. */
  message: Record<string, unknown> | null;
  /** Its options (`retries`, `max_retries`, `eta`, `pipe_target`, `group_info`, ...). */
  options: Record<string, unknown>;
  /** Each failure known: the last one from `options.traceback` and the dead-letter reason. */
  failures: {
    /** The error's first line. */
    error: string;
    /** The whole traceback, when known. */
    traceback: string | null;
  }[];
  /** The stored bytes as text, cut to 64 KiB. */
  raw: string;
}

/** `GET /api/queues/:queue/dead-letters/groups`: dead letters grouped by the first line of their reason. */
export interface ReasonGroups {
  /** The queue whose dead letters were grouped. */
  queue: string;
  /** One group per first line of a reason, largest first. */
  groups: {
    /** The reason's first line (the list's `reason` filter). */
    reason: string;
    /** Dead letters with it. */
    count: number;
  }[];
  /** Dead letters scanned. */
  scanned: number;
  /** Every dead letter was scanned (false past the scan bound: the counts are then partial). */
  complete: boolean;
}

/**
 * Which dead letters a POST acts on: the listed `ids`, or every one matching `filter` (actor,
 * text, reason: the same as the list's). `expect` is the count the page showed: when given and
 * the selection now holds a different number, nothing is done and the answer is 409.
 */
export interface Selection {
  /** The dead letters' ids. */
  ids?: string[];
  /** Every dead letter matching (as the list's filter does). */
  filter?: {
    /** The actor's name. */
    actor?: string;
    /** Text in arguments and options (any case). */
    text?: string;
    /** The first line of the reason. */
    reason?: string;
  };
  /** The count the page showed: another count refuses the action with a 409. */
  expect?: number;
}

/** What a POST did. */
export interface ActionResult {
  /** Always true (failures are {@link ApiError} answers). */
  ok: true;
  /** How many messages, workers or schedules it changed. */
  count: number;
  /** For people: `Requeued 12 dead letters of default`. */
  message: string;
}

/** A worker process as the dashboard shows it. */
export interface WorkerView {
  /** The worker process's registry id. */
  id: string;
  /** Its host name. */
  host: string;
  /** Its process id. */
  pid: number;
  /** From its last beat and how long ago that was. */
  status: "live" | "stopping" | "stopped" | "dead";
  /** The queues it consumes. */
  queues: string[];
  /** Messages it runs at once. */
  concurrency: number;
  /** Resident memory (bytes). */
  rss: number;
  /** Percent of one core over the last period. */
  cpu: number;
  /** Running / concurrency, 0..1. */
  utilization: number;
  /** When it started. */
  startedAt: number;
  /** When it last wrote its record. */
  lastBeat: number;
  /** Its dramats version. */
  version: string;
  /** The messages it runs now. */
  running: {
    /** The message id. */
    id: string;
    /** The actor's name. */
    actor: string;
    /** The message's queue. */
    queue: string;
    /** When it started running. */
    startedAt: number;
    /** How long it has run (ms). */
    elapsed: number;
  }[];
  /** A stop or restart was asked and not yet taken up. */
  pendingControl: "stop" | "restart" | null;
}

/** `GET /api/workers`. */
export interface Workers {
  /** The server's clock (epoch ms). */
  now: number;
  /** Every worker process in the registry. */
  workers: WorkerView[];
}

/** A periodic actor. */
export interface ScheduleView {
  /** The periodic actor's name. */
  actor: string;
  /** Its queue. */
  queue: string;
  /** Its cron expression. */
  schedule: string;
  /** The schedule in words: `At 03:00 AM`, `Every 5 minutes`. */
  description: string;
  /** After downtime, the most recent missed tick runs once. */
  catchUp: boolean;
  /** The next run times. */
  next: number[];
  /** The last tick enqueued; null when none yet. */
  lastTick: number | null;
  /** Paused fleet-wide: no tick is enqueued until it is resumed. */
  paused: boolean;
}

/** `GET /api/schedules`. */
export interface Schedules {
  /** Every periodic actor of the modules given. */
  schedules: ScheduleView[];
}

/** Percentiles of a duration over one bucket (ms); null when nothing was measured. */
export interface Percentiles {
  /** The median. */
  p50: number | null;
  /** The 95th percentile. */
  p95: number | null;
  /** The 99th percentile. */
  p99: number | null;
}

/** One minute of one series. */
export interface HistoryPoint {
  /** Start of the minute. */
  t: number;
  /** Runs finished in the minute (failed ones included). */
  processed: number;
  /** Of them, those that failed. */
  failed: number;
  /** Time from enqueue (or eta) to start of processing. */
  wait: Percentiles;
  /** Processing time. */
  run: Percentiles;
}

/** `GET /api/history`: per-minute points of the fleet, or of one queue / actor. */
export interface History {
  /** Minutes covered (60 or 1440). */
  minutes: number;
  /** Bucket width (ms): 60000. */
  step: number;
  /** The queue asked for, or null for the fleet. */
  queue: string | null;
  /** The actor asked for, or null. */
  actor: string | null;
  /** One point per minute, oldest first; minutes without data have zero counts and null percentiles. */
  points: HistoryPoint[];
  /** Queues and actors that have data in the window, for the page's pickers. */
  queues: string[];
  /** The actors with data in the window. */
  actors: string[];
}
