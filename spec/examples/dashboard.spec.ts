// examples/dashboard, as its README runs it (spec/readme/commands.ts): the block's two `export`
// lines (the Redis URL with the spec's namespace), the app line, the curl line and the workers'
// `npx dramats` line. The dashboard is driven as the page drives it (cookies, CSRF header): the
// page and the overview, an operator login, a pause that holds the signup's message in the queue
// (email hidden in every answer), then a resume after which the workers run it, with the address.
// The app runs as its own process: its module sets up a broker that must not leak into other specs.
import { expect } from "chai";
import { createServer, type AddressInfo } from "node:net";
import { deleteNamespace, uniqueNamespace } from "../helpers/redis.ts";
import { DashboardClient, type Answer } from "../helpers/dashboard-client.ts";
import { privateRedis, readmeLine, ROOT, sh, shStart, userEnv, type Running } from "../readme/commands.ts";

const README = "examples/dashboard/README.md";
const EMAIL = "ada@example.org";

/** A port nothing listens on now, for the README's `${PORT:-3000}`. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Polls `read` until `test` accepts its value; fails with the last value after `ms`. */
async function eventually<T>(read: () => Promise<T>, test: (value: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (test(value)) return value;
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms; last: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("examples/dashboard", function () {
  // The first `npx dramats` in a checkout runs its `prepare` build once.
  this.timeout(240_000);

  it("mounts the dashboard under /jobs: page, overview, operator login, pause and resume, the email never shown", async () => {
    const namespace = uniqueNamespace("dash-example");
    const tokenLine = readmeLine(README, "export DRAMATS_DASHBOARD_TOKEN=");
    const token = /^export DRAMATS_DASHBOARD_TOKEN=(\S+)/.exec(tokenLine)![1]!;
    const exports = [privateRedis(readmeLine(README, "export DRAMATS_BROKER="), namespace), tokenLine];
    const port = await freePort();
    const env = userEnv({ DRAMATS_LOG_LEVEL: "info", PORT: String(port) });
    const app = shStart([...exports, readmeLine(README, "node --import tsx examples/dashboard/app.ts")].join("\n"), ROOT, env);
    let worker: Running | undefined;
    /** Every /jobs/api answer's body, to look for the address in. */
    const answers: string[] = [];
    try {
      const listening = JSON.parse(await app.waitFor((l) => l.includes('"msg":"Listening"'), 20_000)) as { url: string; broker: string; operator: boolean };
      expect(listening).to.include({ url: `http://127.0.0.1:${port}`, broker: "RedisBroker", operator: true });
      const origin = listening.url;

      const page = await fetch(`${origin}/jobs/`);
      expect([page.status, page.headers.get("content-type")]).to.deep.equal([200, "text/html; charset=utf-8"]);
      expect(await page.text()).to.include("<title>dramats dashboard</title>");
      const bare = await fetch(`${origin}/jobs`, { redirect: "manual" });
      expect([bare.status, bare.headers.get("location")]).to.deep.equal([302, "/jobs/"]);

      const client = new DashboardClient(origin, "/jobs");
      const api = async (method: "GET" | "POST", path: string, body?: unknown): Promise<Answer> => {
        const answer = method === "GET" ? await client.get(path) : await client.post(path, body);
        answers.push(JSON.stringify(answer.body));
        return answer;
      };
      const overview = async () => (await api("GET", "/api/overview")).body.queues.find((q: { name: string }) => q.name === "emails");
      expect(await overview(), "the queue its actor declares").to.deep.include({ ready: 0, paused: false });

      // Read-only until logged in with the token; a wrong token does not log in.
      expect(await client.session()).to.include({ readOnly: false, operator: false, base: "/jobs" });
      expect((await api("POST", "/api/queues/emails/pause")).body.error.code).to.equal("forbidden");
      expect((await api("POST", "/api/login", { token: `${token}-wrong` })).status).to.equal(403);
      const login = await api("POST", "/api/login", { token });
      expect([login.status, login.body.operator]).to.deep.equal([200, true]);
      const paused = await api("POST", "/api/queues/emails/pause");
      expect([paused.status, paused.body.count]).to.deep.equal([200, 1]);
      expect(await overview()).to.deep.include({ paused: true });

      // The README's signup, then its workers: the queue is paused, so the message waits.
      const curl = await sh(readmeLine(README, "/signup"), ROOT, userEnv({ PORT: String(port) }));
      expect(curl.code, curl.stderr).to.equal(0);
      const { id } = JSON.parse(curl.stdout) as { id: string };
      worker = shStart([...exports, readmeLine(README, "npx dramats examples/dashboard/actors.ts")].join("\n"), ROOT, userEnv({ DRAMATS_METRICS_PORT: "0" }));
      await worker.waitFor((l) => l.includes('"Worker started"'), 150_000);

      expect(await overview()).to.deep.include({ ready: 1, paused: true });
      const listed = await api("GET", "/api/queues/emails/messages?offset=0&limit=50");
      expect(listed.body.messages.map((m: { id: string; actor: string; args: unknown[] }) => [m.id, m.actor, m.args])).to.deep.equal([[id, "sendWelcome", ["<email hidden>", "Ada"]]]);
      const detail = await api("GET", `/api/queues/emails/messages/${id}`);
      expect([detail.status, detail.body.args, (detail.body.message as { args: unknown[] }).args]).to.deep.equal([200, ["<email hidden>", "Ada"], ["<email hidden>", "Ada"]]);
      // Searching for the address must not tell that it is there (this answer echoes the query, so
      // it is left out of those checked for the address).
      expect((await client.get(`/api/queues/emails/messages?text=${encodeURIComponent(EMAIL)}`)).body.filter).to.include({ matched: 0, scanned: 1 });
      expect((await api("GET", "/api/queues/emails/messages?text=Ada")).body.filter).to.include({ matched: 1 });
      expect(answers.filter((body) => body.includes(EMAIL)), "answers showing the address").to.deep.equal([]);
      expect(answers.join("\n"), "the answers were read").to.include('"<email hidden>"');

      // Resumed, the workers run it: sendWelcome fails on anything but an address, so the stored
      // message held the real one all along.
      expect((await api("POST", "/api/queues/emails/resume")).status).to.equal(200);
      await worker.waitFor((l) => l.includes('"Welcome mail sent"') && l.includes('"name":"Ada"'), 20_000);
      await eventually(overview, (q) => q.ready === 0 && q.running === 0 && q.dead === 0 && q.paused === false);
      expect((await api("GET", `/api/queues/emails/messages/${id}`)).status, "ran, so gone").to.equal(404);
      expect(worker.lines.filter((l) => l.includes(EMAIL)), "worker lines showing the address").to.deep.equal([]);
    } finally {
      await worker?.stop();
      await app.stop();
      await deleteNamespace(namespace);
    }
    expect(app.lines.some((l) => l.includes('"msg":"Shutting down"')), "the app after SIGTERM").to.equal(true);
    expect(app.stderr()).to.equal("");
  });
});
