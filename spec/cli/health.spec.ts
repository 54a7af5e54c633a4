// Issue 19 item 3: the metrics port's routes. Before them every GET path answered the metrics
// text with 200, so these check bodies and status codes, not only that a probe gets 200.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { APP, cliSpec, isBootLine, runs, until, WITH_METRICS } from "./run-cli.ts";
import { metricsUrl } from "./scrape.ts";

interface Probe {
  status: number;
  body: { status: string; processes?: number; reasons?: { reason: string; slot?: number; pid?: number; silentMs?: number }[] };
}

async function probe(base: string, path: string): Promise<Probe> {
  const response = await fetch(`${base}${path}`);
  expect(response.headers.get("content-type")).to.equal("application/json");
  return { status: response.status, body: (await response.json()) as Probe["body"] };
}

async function probeUntil(base: string, path: string, done: (p: Probe) => boolean, timeout = 15_000): Promise<Probe> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const answer = await probe(base, path);
    if (done(answer) || Date.now() > deadline) return answer;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** docker/Dockerfile's HEALTHCHECK, run against `base`'s port as Docker would run it in the container: its exit code. */
function dockerHealthcheck(base: string): number | null {
  const dockerfile = readFileSync(new URL("../../docker/Dockerfile", import.meta.url), "utf8");
  const script = JSON.parse(`"${/^HEALTHCHECK [^\n]*\\\n\s*CMD \["node", "-e", "((?:[^"\\]|\\.)*)"\]/m.exec(dockerfile)![1]!}"`) as string;
  return spawnSync(process.execPath, ["-e", script], { env: { ...process.env, DRAMATS_METRICS_PORT: new URL(base).port }, timeout: 10_000 }).status;
}

describe("dramats health endpoints on the metrics port", function () {
  this.timeout(60_000);
  const spec = cliSpec("dramats-health-");

  it("serves the metrics on /metrics and /, the probes as JSON on /healthz and /readyz, and 404 elsewhere", async () => {
    const cli = spec.start([APP, "--processes", "2", ...WITH_METRICS], { env: { CLI_SPEC_OUT: spec.out, CLI_SPEC_SEND: "1" } });
    const url = await metricsUrl(cli);
    const base = url.replace(/\/metrics$/, "");
    await until(() => cli.count("Worker started") === 2, 20_000);

    const ready = await probeUntil(base, "/readyz", (p) => p.status === 200);
    expect(ready).to.deep.equal({ status: 200, body: { status: "ready", processes: 2 } });
    expect(await probe(base, "/healthz")).to.deep.equal({ status: 200, body: { status: "ok", processes: 2 } });
    expect(dockerHealthcheck(base), "docker/Dockerfile's HEALTHCHECK").to.equal(0);

    for (const path of ["/metrics", "/", "/metrics?x=1"]) {
      const response = await fetch(`${base}${path}`);
      expect(response.status, path).to.equal(200);
      expect(response.headers.get("content-type"), path).to.match(/^text\/plain; version=0\.0\.4/);
      const text = await response.text();
      expect(text, path).to.match(/^# HELP dramatiq_messages_total /m);
      expect(text, path).to.match(/^dramats_consumer_stalled\{queue_name="cli-stub"\} 0$/m);
    }
    for (const path of ["/health", "/metrics/x", "/readyz/", "/favicon.ico"]) {
      const response = await fetch(`${base}${path}`);
      expect(response.status, path).to.equal(404);
      expect(await response.text(), path).to.not.match(/dramatiq_/);
    }
    expect((await fetch(`${base}/healthz`, { method: "POST" })).status).to.equal(405);
    expect(await cli.stop()).to.equal(0);
  });

  it("/healthz and /readyz answer 503 with the reason while a process misses its heartbeats", async () => {
    // The block actor blocks the event loop for good: the heartbeats stop; the supervisor kills the
    // process at 6 s, and its replacement dead-letters that message (the same id in every process).
    const args = [APP, "--processes", "1", ...WITH_METRICS.map((a, i, all) => (all[i - 1] === "--heartbeat-timeout" ? "6000" : a))];
    expect(args).to.include.members(["--heartbeat-interval", "100", "--heartbeat-timeout", "6000"]);
    const cli = spec.start(args, { env: { CLI_SPEC_OUT: spec.out, CLI_SPEC_BLOCK_ID: "blocker-1" } });
    const base = (await metricsUrl(cli)).replace(/\/metrics$/, "");
    await until(() => runs(spec.out, "block-start").length === 1, 20_000);

    const unhealthy = await probeUntil(base, "/healthz", (p) => p.status === 503);
    expect(unhealthy.status).to.equal(503);
    expect(unhealthy.body.status).to.equal("unhealthy");
    const [reason] = unhealthy.body.reasons!;
    expect(reason).to.include({ reason: "missed heartbeats", slot: 0, pid: runs(spec.out)[0]!.pid });
    expect(reason!.silentMs).to.be.above(300);
    expect(dockerHealthcheck(base), "docker/Dockerfile's HEALTHCHECK").to.equal(1);
    const unready = await probe(base, "/readyz");
    expect(unready.status).to.equal(503);
    expect(unready.body.status).to.equal("unready");

    await cli.waitFor("Worker process missed its heartbeats (event loop blocked?); killing it, the broker will redeliver its messages", 20_000);
    expect((await probeUntil(base, "/readyz", (p) => p.status === 200, 20_000)).status, "ready again with the replacement").to.equal(200);
    expect(await probe(base, "/healthz")).to.deep.equal({ status: 200, body: { status: "ok", processes: 1 } });
    expect(await cli.stop()).to.equal(0);
  });

  it("/readyz answers 503 while a dead process is restarted and booting, and 200 again once it consumes", async () => {
    const cli = spec.start([APP, "--processes", "1", ...WITH_METRICS], { env: { CLI_SPEC_OUT: spec.out, CLI_SPEC_SEND: "1" } });
    const base = (await metricsUrl(cli)).replace(/\/metrics$/, "");
    await cli.waitFor(isBootLine);
    expect((await probeUntil(base, "/readyz", (p) => p.status === 200)).status).to.equal(200);
    await until(() => runs(spec.out, "note").length === 1);

    process.kill(runs(spec.out)[0]!.pid, "SIGKILL");
    const unready = await probeUntil(base, "/readyz", (p) => p.status === 503);
    expect(unready.status).to.equal(503);
    expect(unready.body.reasons).to.have.length(1);
    expect(["process restarting", "process booting"]).to.include(unready.body.reasons![0]!.reason);
    // The supervisor is fine, and no process is silent.
    expect((await probe(base, "/healthz")).status).to.equal(200);

    await until(() => runs(spec.out, "note").length === 2, 20_000);
    expect((await probeUntil(base, "/readyz", (p) => p.status === 200)).status).to.equal(200);
    expect(await cli.stop()).to.equal(0);
  });
});
