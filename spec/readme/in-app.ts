// The root README's commands that run in a user's app, run as written (spec/readme/commands.ts)
// in the app spec/package.spec.ts installed the packed package into (one install for all):
// the worker lines of "Moving to Redis or RabbitMQ" and "Running workers", and every operator
// command of "Operating" (workers and health with a worker running), against a Redis namespace whose queues hold a ready and a dead message.
import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { RedisBroker } from "../../brokers/redis/index.ts";
import { Message, Retries } from "../../lib/index.ts";
import { amqpUrl, deleteQueues, queueTopology, uniqueQueue } from "../helpers/amqp.ts";
import { deleteNamespace, redisUrl, uniqueNamespace } from "../helpers/redis.ts";
import { privateRedis, readmeLine, ROOT, sh, shStart } from "./commands.ts";

const run = promisify(execFile);
const README = "README.md";

/**
 * The app's actors: `welcome` on `emails` (EMAILS_QUEUE renames it, so a spec on the shared
 * RabbitMQ vhost uses a queue of its own), on Redis a nightly cron actor and the Cancellation
 * middleware, whose Redis keys sit beside the namespace of the broker URL.
 */
const ACTORS = `import { actor, Cancellation, connect } from "dramats";
import { RedisCancellationBackend } from "dramats/brokers/redis";

export const broker = await connect();
const url = new URL(process.env.DRAMATS_BROKER ?? "sqlite://./dramats.sqlite");
const onRedis = url.protocol === "redis:";
if (onRedis) {
  const prefix = \`\${url.searchParams.get("namespace") ?? "dramatiq"}-cancel\`;
  url.search = "";
  broker.addMiddleware(new Cancellation({ backend: new RedisCancellationBackend({ url: url.href, prefix }) }));
}
const queueName = process.env.EMAILS_QUEUE ?? "emails";
export const welcome = actor(async function welcome(user: string) {
  console.log(\`welcome \${user}\`);
}, { queueName });
export const nightly = onRedis ? actor(function nightly() {}, { queueName, schedule: { cron: "0 3 * * *", timezone: "UTC" } }) : undefined;
`;

/** Waits for the boot line and every process it announces to start, then stops the command as Ctrl-C would; returns the boot line. */
async function bootAndStop(line: string, cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  const worker = shStart(line, cwd, env);
  let boot: string;
  try {
    boot = await worker.waitFor((l) => l.includes("dramats booted"), 60_000);
    const processes = Number(/ (\d+) processes x /.exec(boot)![1]);
    await worker.waitFor(() => worker.lines.filter((l) => l.includes('"Worker started"')).length === processes, 60_000);
  } finally {
    await worker.stop("SIGINT");
  }
  const stopped = worker.lines.filter((l) => l.includes("All worker processes stopped")).map((l) => (JSON.parse(l) as { exitCode: number }).exitCode);
  expect(stopped, worker.lines.join("\n")).to.deep.equal([0]);
  return (JSON.parse(boot) as { msg: string }).msg;
}

export function inAppCommands(appDir: () => string, baseEnv: NodeJS.ProcessEnv): void {
  describe("the README's commands in the app", function () {
    this.timeout(180_000);
    let app: string;
    let env: NodeJS.ProcessEnv;

    before(async () => {
      app = appDir();
      mkdirSync(join(app, "app"), { recursive: true });
      writeFileSync(join(app, "app", "actors.ts"), ACTORS);
      // TypeScript app modules need tsx in the app (the README says so); from npm's cache.
      const { devDependencies } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { devDependencies: Record<string, string> };
      await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "-D", `tsx@${devDependencies.tsx}`], { cwd: app, env: baseEnv });
      // A free metrics port: other runs on this machine may hold the default one.
      env = { ...baseEnv, DRAMATS_METRICS_PORT: "0" };
    });

    it("runs `DRAMATS_BROKER=amqp://... npx dramats app/actors.ts`", async () => {
      const queue = uniqueQueue("readme_emails");
      try {
        const boot = await bootAndStop(readmeLine(README, "DRAMATS_BROKER=amqp://guest:guest@127.0.0.1:5672 npx dramats app/actors.ts"), app, { ...env, EMAILS_QUEUE: queue });
        expect(boot).to.match(new RegExp(`^dramats booted: broker RabbitmqBroker amqp://guest:\\*\\*\\*@127\\.0\\.0\\.1:5672.*; queues ${queue}; actors welcome;`));
      } finally {
        await deleteQueues(await amqpUrl(), queueTopology(queue));
      }
    });

    it("runs `npx dramats app/actors.ts --broker redis://... --processes 4 --threads 8`", async () => {
      const namespace = uniqueNamespace("dramats-readme");
      try {
        const line = privateRedis(readmeLine(README, "npx dramats app/actors.ts --broker redis://127.0.0.1:6379 --processes 4 --threads 8"), namespace);
        const boot = await bootAndStop(line, app, env);
        expect(boot).to.include(`namespace=${namespace}`).and.to.include("4 processes x 8 concurrent actors");
      } finally {
        await deleteNamespace(namespace);
      }
    });

    describe("the operator commands", () => {
      let namespace: string;
      let broker: RedisBroker;
      let ready: string;
      let dead: string;
      const operator = async (line: string, messageId?: string) => {
        const ran = await sh(line.includes("redis://") ? privateRedis(line, namespace) : line, app, {
          ...env,
          DRAMATS_BROKER: `redis://127.0.0.1:6379?namespace=${namespace}`,
          ...(messageId ? { MESSAGE_ID: messageId } : {}),
        });
        expect(ran.code, `${line}\n${ran.stdout}\n${ran.stderr}`).to.equal(0);
        return ran.stdout;
      };

      beforeEach(async () => {
        namespace = uniqueNamespace("dramats-readme-ops");
        broker = new RedisBroker({ url: await redisUrl(), namespace, middleware: [new Retries({ maxRetries: 0 })] });
        broker.declareQueue("emails");
        const send = async (user: string) => {
          const message = new Message({ queueName: "emails", actorName: "welcome", args: [user] });
          await broker.enqueue(message);
          return message.messageId;
        };
        dead = await send("gone");
        const consumer = broker.consume("emails", { prefetch: 1 });
        const [held] = await consumer.fetch(1, 5_000);
        expect(String(held?.body)).to.include(dead);
        await consumer.nack(held!, "Error: mailbox full");
        await consumer.close();
        ready = await send("ada");
      });
      afterEach(async () => {
        await broker.close();
        await deleteNamespace(namespace);
        await deleteNamespace(`${namespace}-cancel`);
      });

      it("queues: ready, delayed, in flight and dead per queue", async () => {
        const table = (await operator(readmeLine(README, "npx dramats queues app/actors.ts --queue legacy"))).split("\n");
        expect(table).to.include.members(["QUEUE   READY  DELAYED  IN FLIGHT  DEAD", "emails      1        0          0     1", "legacy      0        0          0     0"]);
      });

      it("dead-letters: id, time and reason", async () => {
        const listing = await operator(readmeLine(README, "npx dramats dead-letters emails"));
        expect(listing).to.include(`redis://127.0.0.1:6379`).and.to.include("emails: 1");
        const row = listing.split("\n").find((l) => l.startsWith(dead));
        expect(row, listing).to.match(/ welcome +Error: mailbox full$/);
      });

      it("requeue: the dead letter runs again", async () => {
        expect(await operator(readmeLine(README, "npx dramats requeue emails"), dead)).to.include("Requeued 1 dead letter to emails (retry counts reset).");
        expect(await broker.depths("emails")).to.include({ ready: 2, dead: 0 });
      });

      it("purge: drops ready, delayed and dead messages", async () => {
        expect(await operator(readmeLine(README, "npx dramats purge emails --yes"))).to.include("Purged emails: dropped 1 ready, 0 delayed and 1 dead message.");
        expect(await broker.depths("emails")).to.deep.equal({ ready: 0, delayed: 0, inFlight: 0, dead: 0 });
      });

      it("schedules: the cron actors' next runs", async () => {
        const listing = await operator(readmeLine(README, "npx dramats schedules app/actors.ts --next 5"));
        expect(listing).to.match(/^nightly +emails +\S*.*0 3 \* \* \*/m);
        expect(listing).to.match(/^nightly: then( \S+ \S+,){3} \S+ \S+$/m);
      });

      it("cancel: through the modules' Cancellation middleware", async () => {
        const said = await operator(readmeLine(README, 'npx dramats cancel "$MESSAGE_ID" app/actors.ts'), ready);
        expect(said).to.include(`Cancelled 1 message: ${ready}`);
      });

      it("workers and health: the registry the running worker publishes to", async () => {
        const worker = shStart("npx dramats app/actors.ts --processes 1 --registry-interval 500", app, { ...env, DRAMATS_BROKER: `redis://127.0.0.1:6379?namespace=${namespace}` });
        try {
          await worker.waitFor((l) => l.includes('"Worker started"'), 60_000);
          // It published its first record as it started (written before any operator command can start).
          const listing = await operator(readmeLine(README, "# host, pid, status, last beat"));
          expect(listing).to.match(/^HOST +PID +STATUS +LAST BEAT +RUNNING/m).and.to.match(/ live +\d+s ago +0\/8 /);
          expect(await operator(readmeLine(README, "npx dramats workers --broker redis://127.0.0.1:6379 --running"))).to.include("No running messages.");
          expect((await operator(readmeLine(README, "npx dramats health --broker redis://127.0.0.1:6379 --max-age 30"))).trim()).to.equal("healthy: 1 queue served");
        } finally {
          await worker.stop("SIGINT");
        }
      });

      it("dashboard: the pages and API of the installed package, the operator token from the environment", async () => {
        const line = privateRedis(readmeLine(README, 'DRAMATS_DASHBOARD_TOKEN="$TOKEN" npx dramats dashboard app/actors.ts'), namespace);
        const token = "readme-operator-token";
        const served = shStart(line, app, { ...env, TOKEN: token, DRAMATS_DASHBOARD_PORT: "0" });
        try {
          const said = await served.waitFor((l) => l.startsWith("Dashboard of "), 60_000);
          const origin = /http:\/\/[^/ ]+/.exec(said)![0];
          const page = await fetch(`${origin}/`);
          expect(page.status).to.equal(200);
          expect(await page.text()).to.include("assets/app.js");
          expect((await fetch(`${origin}/assets/app.js`)).status).to.equal(200);
          const overview = (await (await fetch(`${origin}/api/overview`)).json()) as { queues: { name: string; ready: number; dead: number }[] };
          expect(overview.queues.find((q) => q.name === "emails")).to.deep.include({ ready: 1, dead: 1 });
          const session = (await (await fetch(`${origin}/api/session`)).json()) as { readOnly: boolean };
          expect(session.readOnly, "the token came from the environment").to.equal(false);
        } finally {
          await served.stop("SIGINT");
        }
      });
    });
  });
}
