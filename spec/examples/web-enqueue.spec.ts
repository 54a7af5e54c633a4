// examples/web-enqueue: the web producer, run as its own process (its module sets the global
// broker, which must not leak into other specs), on the in-memory broker with its in-process
// Worker, and on Redis with real `dramats` worker processes, as docker/compose.yml runs it.
import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { StubResultBackend } from "../../lib/index.ts";
import { FAST, runCli, until, type LogLine } from "../cli/run-cli.ts";
import { deleteNamespace, redisClient, redisUrl, uniqueNamespace } from "../helpers/redis.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SERVER = "examples/web-enqueue/server.ts";
const ACTORS = "examples/web-enqueue/actors.ts";

interface Server {
  readonly child: ChildProcess;
  readonly url: string;
  readonly lines: LogLine[];
  stop(): Promise<number | string>;
}

/** Starts server.ts on a free port and resolves once it logs where it listens. */
async function startServer(env: NodeJS.ProcessEnv): Promise<Server> {
  const child = spawn(process.execPath, ["--import", "tsx", SERVER], {
    cwd: ROOT,
    env: { ...process.env, DRAMATS_BROKER: "", BROKER_URL: "", RESULTS_URL: "", DRAMATS_LOG_LEVEL: "info", PORT: "0", HOST: "127.0.0.1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: LogLine[] = [];
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exit = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? -1)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server.ts did not listen within 15 s; stderr: ${stderr}`)), 15_000);
    let partial = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      const parts = (partial + chunk).split("\n");
      partial = parts.pop()!;
      for (const text of parts.filter((t) => t.trim())) {
        const line = JSON.parse(text) as LogLine;
        lines.push(line);
        if (line.msg === "Listening") clearTimeout(timer), resolve(line.url as string);
      }
    });
    void exit.then((code) => reject(new Error(`server.ts exited with ${code} before listening; stderr: ${stderr}`)));
  });
  return {
    child,
    url,
    lines,
    stop() {
      child.kill("SIGTERM");
      return exit;
    },
  };
}

async function post(base: string, body: string): Promise<{ status: number; location: string | null; json: any }> {
  const response = await fetch(`${base}/jobs`, { method: "POST", body, headers: { "content-type": "application/json" } });
  return { status: response.status, location: response.headers.get("location"), json: await response.json() };
}

async function get(base: string, path: string): Promise<{ status: number; json: any }> {
  const response = await fetch(`${base}${path}`);
  return { status: response.status, json: await response.json() };
}

describe("examples/web-enqueue", function () {
  this.timeout(30_000);

  it("on the in-memory broker: enqueues on POST, runs the job in-process and reports result and failure", async () => {
    const server = await startServer({});
    try {
      expect(server.lines.find((l) => l.msg === "Listening")).to.include({ broker: "StubBroker", inProcessWorker: true });

      const created = await post(server.url, JSON.stringify({ text: "The cat and the hat and THE bat.", top: 2 }));
      expect(created.status).to.equal(202);
      expect(created.location).to.equal(`/jobs/${created.json.id}`);
      const done = await get(server.url, `${created.location}?wait=5000`);
      expect(done).to.deep.equal({
        status: 200,
        json: { id: created.json.id, state: "done", result: { words: 8, distinct: 5, top: [{ word: "the", count: 3 }, { word: "and", count: 2 }] } },
      });

      // A text with no words fails for good (NothingToCount is in the actor's `throws`): no retries.
      const blank = await post(server.url, JSON.stringify({ text: " ... " }));
      const failed = await get(server.url, `${blank.location}?wait=5000`);
      expect(failed.json).to.deep.equal({ id: blank.json.id, state: "failed", error: { type: "NothingToCount", message: "the text has no words" } });

      expect((await get(server.url, "/jobs/00000000-0000-4000-8000-000000000000")).json.state).to.equal("pending");
      expect((await post(server.url, "{not json")).status).to.equal(400);
      expect((await post(server.url, JSON.stringify({ text: 42 }))).status).to.equal(400);
      expect((await get(server.url, "/jobs/not-an-id")).status).to.equal(404);
      expect((await get(server.url, "/healthz")).status).to.equal(200);
      expect(await server.stop(), "exit code after SIGTERM").to.equal(0);
    } finally {
      server.child.kill("SIGKILL");
    }
  });

  it("on Redis: the web process enqueues, `dramats --processes 2` runs the actors, results come back", async () => {
    const namespace = uniqueNamespace("web-enqueue");
    const base = new URL(await redisUrl());
    base.searchParams.set("namespace", namespace);
    const env = { BROKER_URL: base.href, DRAMATS_BROKER: "" };
    const worker = runCli([ACTORS, "--processes", "2", "--threads", "4", ...FAST], { env });
    let server: Server | undefined;
    const ids: string[] = [];
    try {
      await worker.waitFor((l) => typeof l.msg === "string" && l.msg.startsWith("dramats booted"));
      await until(() => worker.lines.filter((l) => l.msg === "Worker started").length === 2);
      server = await startServer(env);
      expect(server.lines.find((l) => l.msg === "Listening")).to.include({ broker: "RedisBroker", inProcessWorker: false });

      const texts = Array.from({ length: 20 }, (_, i) => `job ${i} ${"word ".repeat(i + 1)}`);
      const created = await Promise.all(texts.map((text) => post(server!.url, JSON.stringify({ text, top: 1 }))));
      ids.push(...created.map((c) => c.json.id as string));
      const reports = await Promise.all(created.map((c) => get(server!.url, `${c.location}?wait=10000`)));
      expect(reports.map((r) => [r.status, r.json.state, r.json.result.words, r.json.result.top[0].word])).to.deep.equal(
        texts.map((_, i) => [200, "done", i + 3, i + 1 > 1 ? "word" : "0"]),
      );

      const web = await server.stop();
      worker.signal("SIGTERM");
      expect([web, await worker.exited()], "exit codes of web and worker after SIGTERM").to.deep.equal([0, 0]);
    } finally {
      server?.child.kill("SIGKILL");
      worker.destroy();
      await deleteNamespace(namespace);
      const client = await redisClient();
      const keys = new StubResultBackend();
      if (ids.length > 0) await client.del(...ids.map((messageId) => keys.keyFor({ queueName: "text", actorName: "countWords", messageId })));
      client.disconnect();
    }
  });
});
