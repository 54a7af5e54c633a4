// examples/web-enqueue, as its README runs it (spec/readme/commands.ts): the server line, then the
// two curl lines against it, on the in-memory broker with its in-process Worker; then on Redis
// (the block's `export BROKER_URL=...` with the spec's namespace) with `npx dramats --processes 2`
// workers, as docker/compose.yml runs it. The server runs as its own process: its module sets the
// global broker, which must not leak into other specs.
import { expect } from "chai";
import { createServer, type AddressInfo } from "node:net";
import { StubResultBackend } from "../../lib/index.ts";
import { type LogLine } from "../cli/run-cli.ts";
import { deleteNamespace, redisClient, uniqueNamespace } from "../helpers/redis.ts";
import { privateRedis, readmeLine, ROOT, sh, shStart, userEnv, type Running } from "../readme/commands.ts";

const README = "examples/web-enqueue/README.md";

interface Server {
  readonly running: Running;
  readonly port: number;
  readonly url: string;
  readonly listening: LogLine;
  lines(): LogLine[];
}

/** A port nothing listens on now, for the README's `${PORT:-8000}`. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Runs the README's server line (after the block's `export` lines) and resolves once it logs where it listens. */
async function startServer(line: string, exports: string[] = []): Promise<Server> {
  const port = await freePort();
  const running = shStart([...exports, line].join("\n"), ROOT, userEnv({ DRAMATS_LOG_LEVEL: "info", PORT: String(port) }));
  const listening = await running.waitFor((l) => l.includes('"msg":"Listening"'), 20_000);
  const lines = () => running.lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as LogLine);
  return { running, port, url: (JSON.parse(listening) as { url: string }).url, listening: JSON.parse(listening) as LogLine, lines };
}

/** The README's two curl lines against the server on `port`: the POST's reply, then the GET's. */
async function curlJob(port: number): Promise<{ created: { id: string; url: string }; report: any }> {
  const env = userEnv({ PORT: String(port) });
  const posted = await sh(readmeLine(README, "curl -s -XPOST"), ROOT, env);
  expect(posted.code, posted.stderr).to.equal(0);
  const created = JSON.parse(posted.stdout) as { id: string; url: string };
  const got = await sh(readmeLine(README, "$JOB_ID?wait=5000"), ROOT, { ...env, JOB_ID: created.id });
  expect(got.code, got.stderr).to.equal(0);
  return { created, report: JSON.parse(got.stdout) };
}

const THE_CAT = { words: 5, distinct: 4, top: [{ word: "the", count: 2 }, { word: "and", count: 1 }, { word: "cat", count: 1 }] };

async function post(base: string, body: string): Promise<{ status: number; location: string | null; json: any }> {
  const response = await fetch(`${base}/jobs`, { method: "POST", body, headers: { "content-type": "application/json" } });
  return { status: response.status, location: response.headers.get("location"), json: await response.json() };
}

async function get(base: string, path: string): Promise<{ status: number; json: any }> {
  const response = await fetch(`${base}${path}`);
  return { status: response.status, json: await response.json() };
}

describe("examples/web-enqueue", function () {
  this.timeout(60_000);

  it("on the in-memory broker: enqueues on POST, runs the job in-process and reports result and failure", async () => {
    const server = await startServer(readmeLine(README, "node --import tsx examples/web-enqueue/server.ts"));  // the line without a comment
    try {
      expect(server.listening).to.include({ broker: "StubBroker", inProcessWorker: true });
      const { created, report } = await curlJob(server.port);
      expect(created.url).to.equal(`/jobs/${created.id}`);
      expect(report).to.deep.equal({ id: created.id, state: "done", result: THE_CAT });

      // The routes beyond the README's lines.
      const counted = await post(server.url, JSON.stringify({ text: "The cat and the hat and THE bat.", top: 2 }));
      expect(counted.status).to.equal(202);
      expect(counted.location).to.equal(`/jobs/${counted.json.id}`);
      expect((await get(server.url, `${counted.location}?wait=5000`)).json.result).to.deep.equal({ words: 8, distinct: 5, top: [{ word: "the", count: 3 }, { word: "and", count: 2 }] });
      // A text with no words fails for good (NothingToCount is in the actor's `throws`): no retries.
      const blank = await post(server.url, JSON.stringify({ text: " ... " }));
      const failed = await get(server.url, `${blank.location}?wait=5000`);
      expect(failed.json).to.deep.equal({ id: blank.json.id, state: "failed", error: { type: "NothingToCount", message: "the text has no words" } });

      expect((await get(server.url, "/jobs/00000000-0000-4000-8000-000000000000")).json.state).to.equal("pending");
      expect((await post(server.url, "{not json")).status).to.equal(400);
      expect((await post(server.url, JSON.stringify({ text: 42 }))).status).to.equal(400);
      expect((await get(server.url, "/jobs/not-an-id")).status).to.equal(404);
      expect((await get(server.url, "/healthz")).status).to.equal(200);
    } finally {
      await server.running.stop();
    }
    expect(server.lines().map((l) => l.msg), "the server after SIGTERM").to.include("Shutting down");
    expect(server.running.stderr()).to.equal("");
  });

  it("on Redis: the web process enqueues, `npx dramats ... --processes 2` runs the actors, results come back", async function () {
    // The first `npx dramats` in a checkout runs its `prepare` build once.
    this.timeout(240_000);
    const namespace = uniqueNamespace("web-enqueue");
    const exports = [privateRedis(readmeLine(README, "export BROKER_URL="), namespace)];
    const worker = shStart([...exports, readmeLine(README, "npx dramats examples/web-enqueue/actors.ts")].join("\n"), ROOT, userEnv({ DRAMATS_METRICS_PORT: "0" }));
    let server: Server | undefined;
    const ids: string[] = [];
    try {
      await worker.waitFor((l) => l.includes("dramats booted"), 150_000);
      await worker.waitFor(() => worker.lines.filter((l) => l.includes('"Worker started"')).length === 2);
      server = await startServer(readmeLine(README, "examples/web-enqueue/server.ts              # in another terminal"), exports);
      expect(server.listening).to.include({ broker: "RedisBroker", inProcessWorker: false });

      const { created, report } = await curlJob(server.port);
      ids.push(created.id);
      expect(report).to.deep.equal({ id: created.id, state: "done", result: THE_CAT });
      const texts = Array.from({ length: 20 }, (_, i) => `job ${i} ${"word ".repeat(i + 1)}`);
      const posted = await Promise.all(texts.map((text) => post(server!.url, JSON.stringify({ text, top: 1 }))));
      ids.push(...posted.map((c) => c.json.id as string));
      const reports = await Promise.all(posted.map((c) => get(server!.url, `${c.location}?wait=10000`)));
      expect(reports.map((r) => [r.status, r.json.state, r.json.result.words, r.json.result.top[0].word])).to.deep.equal(
        texts.map((_, i) => [200, "done", i + 3, i + 1 > 1 ? "word" : "0"]),
      );
    } finally {
      await server?.running.stop();
      await worker.stop();
      await deleteNamespace(namespace);
      const client = await redisClient();
      const keys = new StubResultBackend();
      if (ids.length > 0) await client.del(...ids.map((messageId) => keys.keyFor({ queueName: "text", actorName: "countWords", messageId })));
      client.disconnect();
    }
    const stopped = worker.lines.filter((l) => l.includes("All worker processes stopped")).map((l) => (JSON.parse(l) as { exitCode: number }).exitCode);
    expect([server?.lines().some((l) => l.msg === "Shutting down"), server?.running.stderr(), stopped], "web and worker after SIGTERM").to.deep.equal([true, "", [0]]);
  });
});
