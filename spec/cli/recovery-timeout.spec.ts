// `--recovery-timeout` and the URL parameters behind it (`heartbeat_timeout` for Redis,
// `lease_time` for SQLite): the slow path of recovery, when no supervisor saw the death (here the
// whole fleet is SIGKILLed), takes the time the operator set instead of the 60 s or 30 s default.
import { expect } from "chai";
import { join } from "node:path";
import { Message } from "../../lib/message.ts";
import { onEachRecoveryBroker, type RecoveryBroker } from "./recovery-brokers.ts";
import { cliSpec, isBootLine, recordsIn, until, type CliSpec } from "./run-cli.ts";

const APP = "spec/fixtures/cli-recovery-app.ts";
const FLAGS = ["--processes", "1", "--threads", "2", "--heartbeat-interval", "100", "--heartbeat-timeout", "3000", "--grace", "5000", "--cpu-threads", "1", "--no-metrics"];
const RECOVERY_MS = 2_000;
/** Well below both defaults (Redis 60 s, SQLite 30 s), and the app's own 60 s. */
const PATIENCE = 15_000;

function recoveryTimeoutCase(name: string, spec: CliSpec, side: RecoveryBroker): void {
  it(`gives a SIGKILLed fleet's messages to the next fleet after --recovery-timeout (${name})`, async () => {
    const start = (work: number) =>
      spec.start([APP, ...FLAGS, "--broker", side.url(), "--recovery-timeout", String(RECOVERY_MS)], {
        env: { CLI_SPEC_OUT: spec.out, RECOVERY_WORK_MS: String(work), ...side.env() },
      });
    const first = start(60_000);
    const boot = await first.waitFor(isBootLine, 20_000);
    expect(boot.msg).to.match(/heartbeat_timeout=2000|lease_time=2000/);
    await side.broker().enqueueMany([0, 1].map((n) => new Message({ queueName: "recovery", actorName: "recovery_work", args: [n] })));
    await until(() => recordsIn(spec.out).filter(([event]) => event === "start").length === 2, 15_000);
    process.kill(-first.pid, "SIGKILL");
    const killedAt = Date.now();
    const second = start(10);
    await until(() => recordsIn(spec.out).filter(([event]) => event === "done").length === 2, PATIENCE);
    console.log(`      ${name}: both messages finished ${Date.now() - killedAt} ms after the whole fleet was SIGKILLed`);
    expect(await second.stop()).to.equal(0);
  });
}

describe("dramats --recovery-timeout", function () {
  this.timeout(60_000);

  onEachRecoveryBroker("dramats-recovery-timeout-", recoveryTimeoutCase);

  describe("refusing what cannot work", () => {
    const spec = cliSpec("dramats-recovery-timeout-bad-");

    async function refused(args: string[], message: RegExp): Promise<void> {
      const run = spec.start([APP, ...FLAGS, ...args], { env: { CLI_SPEC_OUT: spec.out, RECOVERY_BROKER: "sqlite", SQLITE_PATH: join(spec.dir, "jobs.sqlite") } });
      expect(await run.exited(20_000), args.join(" ")).to.equal(2);
      expect(run.stderr()).to.match(message);
    }

    it("exits 2 with a message for a broker URL or flag that sets no usable recovery timeout", async () => {
      await refused(["--recovery-timeout", "2000"], /--recovery-timeout sets a parameter of the broker URL: name the broker with --broker/);
      await refused(["--recovery-timeout", "60"], /--recovery-timeout <ms>' argument '60' is invalid\. expected an integer >= 1000/);
      await refused(["--broker", "amqp://127.0.0.1", "--recovery-timeout", "2000"], /--recovery-timeout applies to redis:\/\/, rediss:\/\/, postgres:\/\/ and sqlite: brokers, not amqp:\/\//);
      await refused(["--broker", "redis://127.0.0.1:1?heartbeat_timeout=9000", "--recovery-timeout", "2000"], /contradicts the broker URL's heartbeat_timeout=9000/);
      await refused(["--broker", "redis://127.0.0.1:1?heartbeat_timeout=60"], /heartbeat_timeout must be a whole number of milliseconds, at least 1000, got "60"/);
      await refused(["--broker", `sqlite://${join(spec.dir, "x.sqlite")}?lease_time=-1`], /lease_time must be a whole number of milliseconds, at least 1000, got "-1"/);
    });
  });
});
