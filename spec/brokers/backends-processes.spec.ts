// The SQLite and PostgreSQL cancellation and rate-limiter backends across processes sharing one
// file or schema: four processes race for one barrier, slots, a window and a bucket at once (each
// operation must be one transaction, or lock its key, for the totals to hold), and every process
// hears every other's cancellation.
import { expect } from "chai";
import type { ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { PostgresCancellationBackend, PostgresRateLimiterBackend } from "../../brokers/postgres/backends.ts";
import { SqliteCancellationBackend, SqliteRateLimiterBackend } from "../../brokers/sqlite/index.ts";
import type { CancellationBackend } from "../../lib/cancellation/backend.ts";
import type { RateLimiterBackend } from "../../lib/rate-limits/backend.ts";
import { tempDatabase, waitFor } from "../fixtures/sqlite-files.ts";
import { spawnFixture } from "../helpers/fixture-process.ts";
import { dropSchema, uniqueSchema, urlWithSchema } from "../helpers/postgres.ts";

const PROCESSES = 4;
const COUNT = 40;

interface Racer {
  child: ChildProcess;
  lines: string[];
  send(line: string): void;
}

function startRacer(env: Record<string, string>): Racer {
  const { child, lines } = spawnFixture("backend-racer.ts", env, { stdin: true });
  child.stderr!.on("data", (chunk: Buffer) => process.stderr.write(chunk.toString()));
  return { child, lines, send: (line) => child.stdin!.write(`${line}\n`) };
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(child.exitCode) : child.once("exit", (code) => resolve(code))));

/** The first JSON line of `racer` with `field`, waiting for it. */
async function report<T>(racer: Racer, field: string): Promise<T> {
  let found: T | undefined;
  await waitFor(() => {
    if (racer.child.exitCode !== null) throw new Error(`A racer exited with ${racer.child.exitCode}`);
    const line = racer.lines.find((l) => l.startsWith("{") && field in JSON.parse(l));
    if (line !== undefined) found = JSON.parse(line) as T;
    return found !== undefined;
  }, 20_000, `a racer's ${field}`);
  return found!;
}

/** One store the racers share: the racers' environment, the parent's own backends on it, cleanup. */
interface Place {
  env: Record<string, string>;
  limits(): RateLimiterBackend & { close(): Promise<void> };
  cancellations(): CancellationBackend;
  cleanup(): Promise<void>;
}

const PLACES: [string, () => Place][] = [
  [
    "SQLite",
    () => {
      const db = tempDatabase();
      return {
        env: { RACE_STORE: "sqlite", SQLITE_PATH: db.path },
        limits: () => new SqliteRateLimiterBackend({ path: db.path }),
        cancellations: () => new SqliteCancellationBackend({ path: db.path }),
        cleanup: async () => db.cleanup(),
      };
    },
  ],
  [
    "PostgreSQL",
    () => {
      const schema = uniqueSchema("backend_race");
      const url = urlWithSchema(schema);
      return {
        env: { RACE_STORE: "postgres", PG_URL: url },
        limits: () => new PostgresRateLimiterBackend({ url }),
        cancellations: () => new PostgresCancellationBackend({ url }),
        cleanup: () => dropSchema(schema),
      };
    },
  ],
];

for (const [name, open] of PLACES) {
  describe(`${name} backends across processes`, function () {
    this.timeout(60_000);
    let place: Place;
    const racers: Racer[] = [];

    beforeEach(() => {
      place = open();
    });

    afterEach(async () => {
      for (const racer of racers.splice(0)) {
        if (racer.child.exitCode === null && racer.child.signalCode === null) racer.child.kill("SIGKILL");
        await exited(racer.child);
      }
      await place.cleanup();
    });

    it("holds barriers, slots, windows and buckets to their counts under racing processes, and announces cancellations to each", async () => {
      const key = `race-${randomUUID()}`;
      const limits = place.limits();
      const cancellations = place.cancellations();
      const heard: string[] = [];
      const stop = await cancellations.subscribe((id) => heard.push(id));
      try {
        expect(await limits.createBarrier(`${key}-barrier`, PROCESSES * COUNT, 60_000)).to.equal(true);
        for (let i = 0; i < PROCESSES; i++) racers.push(startRacer({ ...place.env, RACE_KEY: key, RACE_ID: String(i), RACE_COUNT: String(COUNT) }));
        await waitFor(() => racers.every((r) => r.lines.includes("ready")), 20_000, "every racer to be ready");
        for (const racer of racers) racer.send("go");
        const results = await Promise.all(racers.map((r) => report<{ arrivals: number; slots: number; hits: number; tokens: number }>(r, "arrivals")));
        const total = (field: keyof (typeof results)[number]) => results.reduce((sum, r) => sum + r[field], 0);
        expect(total("arrivals"), "the barrier completed for exactly one arrival").to.equal(1);
        expect(total("slots")).to.equal(3);
        expect(total("hits")).to.equal(10);
        expect(total("tokens")).to.equal(7);
        expect(await limits.arriveAtBarrier(`${key}-barrier`, "0-0"), "complete until closed").to.equal(true);

        const expected = racers.map((_, i) => `${key}-cancelled-by-${i}`);
        await waitFor(() => expected.every((id) => heard.includes(id)), 10_000, "this process to hear every racer's cancellation");
        await cancellations.cancel(`${key}-cancelled-by-parent`, 60_000);
        expected.push(`${key}-cancelled-by-parent`);
        for (const racer of racers) {
          await waitFor(async () => {
            racer.lines.length = 0;
            racer.send("heard");
            const { heard: theirs } = await report<{ heard: string[] }>(racer, "heard");
            return expected.every((id) => theirs.includes(id));
          }, 10_000, "each racer to hear every cancellation");
        }
        expect([...(await cancellations.list()).keys()]).to.include.members(expected);
        for (const racer of racers) racer.child.stdin!.end("bye\n");
        for (const racer of racers) expect(await exited(racer.child)).to.equal(0);
      } finally {
        await stop();
        await cancellations.close();
        await limits.close();
      }
    });
  });
}
