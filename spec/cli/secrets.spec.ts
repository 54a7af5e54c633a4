// Acceptance: no broker password reaches the CLI's output, whatever its length (issue 25, items 9
// and 10), checked on the real `dramats` command with -v against real brokers: a user of the
// spec's own with a password of 1, 5 and 40 characters, the right password and a wrong one.
// A refused password is an unreachable broker: exit code 3, with the URL masked.
import { expect } from "chai";
import { Redis } from "ioredis";
import { randomUUID } from "node:crypto";
import { amqpUrl, deleteQueues, rabbitmqctl } from "../helpers/amqp.ts";
import { deleteNamespace, redisUrl } from "../helpers/redis.ts";
import { runOperator } from "./run-operator.ts";
import { cliSpec, FAST, isBootLine } from "./run-cli.ts";

const APP = "spec/fixtures/cli-plain-actors.ts";
/** URL-safe, so the URL carries them as they are. */
const PASSWORDS = ["Q", "Kq7xz", "N4vR-8tWq_2LmZ.c9PbX3hYk7JdF1sGa6UeT0oVi"];
/** The same length, another password. */
const wrongFor = (password: string) => password.slice(0, -1) + (password.endsWith("w") ? "v" : "w");

/**
 * Fails when `output` shows `password`. One that short may occur in any text by chance ("Q" in a
 * word), so a password shorter than 5 characters is looked for where it would leak: after a URL's
 * user, or as a whole quoted string (a JSON field or command argument).
 */
function expectNoPassword(output: string, password: string, what: string): void {
  if (password.length >= 5) {
    expect(output, `${what} shows the password ${password}`).not.to.contain(password);
    return;
  }
  for (const leak of [`:${password}@`, `"${password}"`, `'${password}'`]) {
    expect(output, `${what} shows the password as ${leak}`).not.to.contain(leak);
  }
}

describe("dramats keeps broker passwords of any length out of its output", function () {
  this.timeout(120_000);
  const cli = cliSpec("dramats-secrets-");

  describe("on Redis, with an ACL user of the spec's own", () => {
    let base: URL;
    let admin: Redis;
    let user: string;
    let ns: string;

    before(async () => {
      base = new URL(await redisUrl());
      admin = new Redis(base.href, { lazyConnect: true });
      admin.on("error", () => {});
      await admin.connect();
    });
    after(() => admin.disconnect());
    beforeEach(() => {
      user = `dramats-spec-${randomUUID().slice(0, 8)}`;
      ns = `dramats-secrets-${randomUUID().slice(0, 8)}`;
    });
    afterEach(async () => {
      await admin.call("ACL", "DELUSER", user);
      await deleteNamespace(ns);
    });

    const urlWith = (password: string) => {
      const url = new URL(base.href);
      url.username = user;
      url.password = password;
      url.searchParams.set("namespace", ns);
      return url.href;
    };

    for (const password of PASSWORDS) {
      it(`masks a password of ${password.length} character${password.length === 1 ? "" : "s"} in operator commands and the worker, and exits 3 when it is refused`, async () => {
        await admin.call("ACL", "SETUSER", user, "on", `>${password}`, "~*", "&*", "+@all");
        const right = urlWith(password);
        const wrong = urlWith(wrongFor(password));
        const masked = `redis://${user}:***@${base.host}`;

        const table = await runOperator(["dead-letters", "cli-plain", "-v", "--broker", right]);
        expect(table.code, table.stderr).to.equal(0);
        expect(table.stdout).to.contain(`Broker: RedisBroker ${masked}`);
        expectNoPassword(table.stdout + table.stderr, password, "dead-letters");

        const json = await runOperator(["queues", "--queue", "cli-plain", "--json", "-v", "--broker", right]);
        expect(json.code, json.stderr).to.equal(0);
        expect(json.json().queues).to.have.length(1);
        expectNoPassword(json.stdout + json.stderr, password, "queues --json");

        const refused = await runOperator(["dead-letters", "cli-plain", "-v", "--timeout", "5000", "--broker", wrong]);
        expect(refused.code, refused.stderr).to.equal(3);
        expect(refused.stderr).to.contain(`Cannot reach the broker (RedisBroker ${masked}`);
        expectNoPassword(refused.stdout + refused.stderr, wrongFor(password), "dead-letters with a wrong password");

        const worker = cli.start([APP, "-v", "-p", "1", ...FAST, "--broker", wrong]);
        expect(await worker.exited(30_000), worker.stderr()).to.equal(3);
        expect(worker.stderr()).to.contain(`Cannot reach the broker (RedisBroker ${masked}`);
        expectNoPassword(JSON.stringify(worker.lines) + worker.stderr(), wrongFor(password), "the worker with a wrong password");

        const running = cli.start([APP, "-v", "-p", "1", ...FAST, "--broker", right]);
        await running.waitFor(isBootLine, 30_000);
        expect(await running.stop()).to.equal(0);
        expectNoPassword(JSON.stringify(running.lines) + running.stderr(), password, "the worker");
      });
    }
  });

  describe("on RabbitMQ, with a user of the spec's own (rabbitmqctl)", () => {
    let base: URL;
    let user: string;
    let queue: string;

    before(async () => {
      base = new URL(await amqpUrl());
    });
    beforeEach(() => {
      user = `dramats-spec-${randomUUID().slice(0, 8)}`;
      queue = `secrets_${randomUUID().slice(0, 8)}`;
    });
    afterEach(async () => {
      await rabbitmqctl("delete_user", user).catch(() => {});
      await deleteQueues(base.href, [queue]);
    });

    const urlWith = (password: string) => {
      const url = new URL(base.href);
      url.username = user;
      url.password = password;
      return url.href;
    };

    for (const password of PASSWORDS) {
      it(`masks a password of ${password.length} character${password.length === 1 ? "" : "s"} in operator commands, and exits 3 at once when it is refused`, async () => {
        await rabbitmqctl("add_user", user, password);
        await rabbitmqctl("set_permissions", "-p", decodeURIComponent(base.pathname.slice(1)) || "/", user, ".*", ".*", ".*");
        const masked = `amqp://${user}:***@${base.host}`;

        const json = await runOperator(["queues", "--queue", queue, "--json", "-v", "--broker", urlWith(password)]);
        expect(json.code, json.stderr).to.equal(0);
        expect(json.json().queues).to.have.length(1);
        expectNoPassword(json.stdout + json.stderr, password, "queues --json");

        const wrong = wrongFor(password);
        const started = Date.now();
        // A long --timeout: the refusal, not the timeout, must end the command.
        const refused = await runOperator(["queues", "--queue", queue, "-v", "--timeout", "60000", "--broker", urlWith(wrong)], {}, 60_000);
        expect(refused.code, refused.stderr).to.equal(3);
        expect(refused.stderr).to.contain(`Cannot reach the broker (RabbitmqBroker ${masked}`);
        expect(refused.stderr).to.contain("refused the credentials");
        expect(Date.now() - started).to.be.below(30_000);
        expectNoPassword(refused.stdout + refused.stderr, wrong, "queues with a wrong password");

        const worker = cli.start([APP, "-v", "-p", "1", ...FAST, "--broker", urlWith(wrong)]);
        expect(await worker.exited(40_000), worker.stderr()).to.equal(3);
        expect(worker.stderr()).to.contain(`Cannot reach the broker (RabbitmqBroker ${masked}`);
        expectNoPassword(JSON.stringify(worker.lines) + worker.stderr(), wrong, "the worker with a wrong password");
      });
    }
  });
});
