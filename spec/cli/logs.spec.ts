// Issue 6 acceptance: one structured log line per message event, with the fields an operator
// filters on, and no broker password anywhere in the output. Runs the real command with a user
// and password in the broker URL, through a proxy that logs in to Redis with those (RedisProxy).
import { expect } from "chai";
import { randomUUID } from "node:crypto";
import { Message } from "../../lib/index.ts";
import { acceptCredentials, RedisProxy } from "../helpers/redis-proxy.ts";
import { redisNamespace } from "./redis-namespace.ts";
import { cliSpec, FAST, isBootLine, type CliRun, type LogLine } from "./run-cli.ts";

const OUTCOMES = "spec/fixtures/cli-outcomes-app.ts";
const DEBUG = 20;
const INFO = 30;
const WARN = 40;
const ERROR = 50;

describe("dramats logs", function () {
  this.timeout(30_000);
  const spec = cliSpec("dramats-logs-");
  const redis = redisNamespace("dramats-logs", ["outcomes"]);
  let user: string;
  let password: string;
  /** The broker URL as the worker gets it: user and password included. */
  let secretUrl: string;
  let proxy: RedisProxy;

  beforeEach(async () => {
    user = `dramats-spec-${randomUUID().slice(0, 8)}`;
    password = `pw-${randomUUID()}`;
    proxy = await RedisProxy.start(redis.url, acceptCredentials(redis.url, user, password));
    const parsed = new URL(proxy.url);
    parsed.searchParams.set("namespace", redis.ns);
    parsed.username = user;
    parsed.password = password;
    secretUrl = parsed.href;
  });
  afterEach(async () => {
    await proxy.close();
  });

  /** Everything the command printed: every stdout line as it came, and stderr. */
  const output = (run: CliRun) => run.lines.map((l) => JSON.stringify(l)).join("\n") + run.stderr();

  it("logs each message event once with messageId, actor, queue, attempt (and durationMs), debug with --verbose", async () => {
    const { broker } = redis;
    const cli = spec.start([OUTCOMES, "--processes", "1", "--verbose", "--broker", secretUrl, ...FAST]);
    const boot = await cli.waitFor(isBootLine);
    expect(boot.msg).to.include(`redis://${user}:***@`);

    const send = (args: unknown[], actorName = "work", messageTimestamp?: number) =>
      broker.enqueue(new Message({ queueName: "outcomes", actorName, args, ...(messageTimestamp ? { messageTimestamp } : {}) }));
    const ok = await send(["ok", 0]);
    const flaky = await send(["flaky", 1]);
    const doomed = await send(["doomed", 99]);
    const stale = await send([], "stale", Date.now() - 60_000);
    await broker.join("outcomes", { timeout: 15_000, failFast: false });
    await cli.waitFor((l) => l.msg === "Message dead-lettered" && l.messageId === doomed.messageId);
    await cli.waitFor((l) => l.msg === "Message dead-lettered" && l.messageId === stale.messageId);

    const about = (id: string) => cli.lines.filter((l) => l.messageId === id);
    /** Each (attempt, event) of a message, in order, checking the common fields on the way. */
    const events = (id: string, actor = "work") =>
      about(id).map((l) => {
        expect(l, JSON.stringify(l)).to.include({ actor, queue: "outcomes", component: l.component });
        expect(l.attempt, JSON.stringify(l)).to.be.a("number");
        return `${l.attempt} ${l.msg}`;
      });
    const one = (id: string, attempt: number, msg: string): LogLine => {
      const found = about(id).filter((l) => l.attempt === attempt && l.msg === msg);
      expect(found, `${msg} (attempt ${attempt})`).to.have.length(1);
      return found[0]!;
    };

    expect(events(ok.messageId)).to.deep.equal(["1 Message received", "1 Actor started", "1 Actor succeeded"]);
    const succeeded = one(ok.messageId, 1, "Actor succeeded");
    expect(succeeded.level).to.equal(DEBUG);
    expect(succeeded.durationMs).to.be.a("number").and.to.be.at.least(0);

    expect(events(flaky.messageId)).to.deep.equal([
      "1 Message received", "1 Actor started", "1 Actor failed", "1 Retrying message",
      "2 Message received", "2 Actor started", "2 Actor succeeded",
    ]);
    const failed = one(flaky.messageId, 1, "Actor failed");
    expect(failed.level).to.equal(WARN);
    expect(failed.durationMs).to.be.a("number");
    const err = failed.err as { message: string; stack: string };
    expect(err.message).to.equal("planned failure of flaky on attempt 1");
    expect(err.stack).to.include("cli-outcomes-app.ts");
    const retrying = one(flaky.messageId, 1, "Retrying message");
    expect(retrying.level).to.equal(INFO);
    expect(retrying.delayMs).to.be.a("number").and.to.be.within(10, 40);

    expect(events(doomed.messageId).filter((e) => !e.endsWith("Retries exceeded"))).to.deep.equal([
      "1 Message received", "1 Actor started", "1 Actor failed", "1 Retrying message",
      "2 Message received", "2 Actor started", "2 Actor failed", "2 Retrying message",
      "3 Message received", "3 Actor started", "3 Actor failed", "3 Message dead-lettered",
    ]);
    const dead = one(doomed.messageId, 3, "Message dead-lettered");
    expect(dead.level).to.equal(ERROR);
    expect(dead.reason).to.equal("Error: planned failure of doomed on attempt 3");
    expect(dead.durationMs).to.be.a("number").and.to.be.at.least(0);
    // One line above debug says a message was dead-lettered: Retries' own is debug.
    expect(one(doomed.messageId, 3, "Retries exceeded").level).to.equal(DEBUG);

    const skipped = one(stale.messageId, 1, "Message skipped");
    expect(skipped.level).to.equal(INFO);
    expect(skipped.reason).to.match(/^Message age limit exceeded/);
    expect(events(stale.messageId, "stale")).to.include.members(["1 Message received", "1 Message skipped"]);
    expect(events(stale.messageId, "stale")).not.to.include("1 Actor started");

    expect(await cli.stop()).to.equal(0);
    expect(cli.lines.some((l) => l.msg === "Worker stopped")).to.equal(true);
    expect(output(cli)).not.to.include(password);
  });

  it("never prints the password of DRAMATS_BROKER: not at info level, not when the broker refuses it", async () => {
    const { broker } = redis;
    const cli = spec.start([OUTCOMES, "--processes", "1", ...FAST], { env: { DRAMATS_BROKER: secretUrl } });
    const boot = await cli.waitFor(isBootLine);
    expect(boot.msg).to.include(`redis://${user}:***@`);
    const ok = await broker.enqueue(new Message({ queueName: "outcomes", actorName: "work", args: ["quiet", 0] }));
    await broker.join("outcomes", { timeout: 10_000 });
    // At info level a success logs nothing per message.
    expect(cli.lines.filter((l) => l.messageId === ok.messageId)).to.deep.equal([]);
    expect(cli.lines.some((l) => l.level === DEBUG)).to.equal(false);
    expect(await cli.stop()).to.equal(0);
    expect(output(cli)).not.to.include(password);

    // A wrong password: the boot fails with exit code 3, and neither password is printed.
    const wrong = new URL(secretUrl);
    wrong.password = `wrong-${password}`;
    const refused = spec.start([OUTCOMES, "--processes", "1", "--verbose", ...FAST], { env: { DRAMATS_BROKER: wrong.href } });
    expect(await refused.exited()).to.equal(3);
    expect(refused.stderr()).to.include("Cannot reach the broker");
    expect(output(refused)).not.to.include(password);
  });
});
