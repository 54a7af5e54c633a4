// The `dramats` command against RabbitMQ queues that Python Dramatiq 2.2 declared first.
import { expect } from "chai";
import { amqpUrl, deleteQueues, rawChannel, uniqueQueue } from "../helpers/amqp.ts";
import { runCli } from "./run-cli.ts";
import { runOperator } from "./run-operator.ts";

/** Declares q, q.DQ and q.XQ as Dramatiq 2.2 does by default (dramatiq/brokers/rabbitmq.py:326-353): no x-max-priority. */
async function declareAsDramatiq(url: string, queue: string): Promise<void> {
  const raw = await rawChannel(url);
  try {
    const main = { "x-dead-letter-exchange": "", "x-dead-letter-routing-key": `${queue}.XQ` };
    await raw.channel.assertQueue(queue, { durable: true, arguments: main });
    await raw.channel.assertQueue(`${queue}.DQ`, { durable: true, arguments: main });
    await raw.channel.assertQueue(`${queue}.XQ`, { durable: true, arguments: { "x-message-ttl": 7 * 24 * 3600 * 1000 } });
  } finally {
    await raw.close();
  }
}

function withMaxPriority(url: string, n: number): string {
  return `${url}${url.includes("?") ? "&" : "?"}max_priority=${n}`;
}

describe("dramats on RabbitMQ queues Python Dramatiq declared", function () {
  this.timeout(60_000);
  let url: string;
  let queue: string;

  before(async () => {
    url = await amqpUrl();
  });

  beforeEach(async () => {
    queue = uniqueQueue("cli_py");
    await declareAsDramatiq(url, queue);
  });

  afterEach(async () => {
    await deleteQueues(url, [queue]);
  });

  it("boots with the defaults and stops cleanly", async () => {
    const cli = runCli(["spec/fixtures/cli-plain-actors.ts", "--broker", url, "--queues", queue, "--processes", "1"], { env: { DRAMATS_BROKER: "" } });
    try {
      await cli.waitFor("Worker started", 30_000);
      expect(await cli.stop("SIGTERM", 20_000)).to.equal(0);
    } finally {
      cli.destroy();
    }
  });

  it("exits 2 (a configuration error, not 3 'unreachable') with ?max_priority=10, naming the queue, the argument and the fix", async () => {
    const cli = runCli(["spec/fixtures/cli-plain-actors.ts", "--broker", withMaxPriority(url, 10), "--queues", queue, "--processes", "1"], { env: { DRAMATS_BROKER: "" } });
    try {
      expect(await cli.exited(30_000)).to.equal(2);
      const err = cli.stderr();
      expect(err).to.contain("refused the queue declaration");
      expect(err).to.contain(`RabbitMQ queue "${queue}" exists with x-max-priority unset, but this broker declares it with x-max-priority 10`);
      expect(err).to.contain("remove max_priority from the broker URL");
      expect(err).not.to.contain("Cannot reach the broker");
    } finally {
      cli.destroy();
    }
  });

  it("operator commands exit 2 with the same message", async () => {
    const run = await runOperator(["queues", "--queue", queue, "--broker", withMaxPriority(url, 10)]);
    expect(run.code, run.stderr).to.equal(2);
    expect(run.stderr).to.contain(`RabbitMQ queue "${queue}" exists with x-max-priority unset`);
    expect(run.stderr).to.contain("remove max_priority from the broker URL");
    const fine = await runOperator(["queues", "--queue", queue, "--broker", url]);
    expect(fine.code, fine.stderr).to.equal(0);
  });
});
