// `broker.close()` closes what the broker's middleware opened, so a script whose last step is
// closing its broker exits on its own; a middleware shared by two brokers closes with the last.
import { expect } from "chai";
import { fileURLToPath } from "node:url";
import { StubBroker } from "../brokers/stub.ts";
import {
  Cancellation,
  GroupCallbacks,
  RateLimit,
  Results,
  StubCancellationBackend,
  StubRateLimiterBackend,
  StubResultBackend,
} from "../lib/index.ts";
import { Middleware } from "../middleware/middleware.ts";
import { runCli, TSX, type CliRun } from "./cli/run-cli.ts";
import { deleteNamespace, redisUrl, uniqueNamespace } from "./helpers/redis.ts";

const SCRIPTS = fileURLToPath(new URL("./fixtures/closing-scripts.ts", import.meta.url));
/** A closed script exits at once; this only bounds how long a hanging one is waited for. */
const EXIT_DEADLINE = 10_000;

class Closing extends Middleware {
  constructor(
    readonly label: string,
    readonly log: string[],
    readonly failure?: Error,
  ) {
    super();
  }
  override close(): void {
    this.log.push(this.label);
    if (this.failure) throw this.failure;
  }
}

describe("broker.close() and middleware", () => {
  describe("scripts that close their broker exit on their own", function () {
    this.timeout(30_000);
    let namespace: string;
    let run: CliRun | undefined;

    beforeEach(() => {
      namespace = uniqueNamespace("dramats-close");
    });
    afterEach(async () => {
      run?.destroy();
      run = undefined;
      for (const prefix of [namespace, `${namespace}-limits`, `${namespace}-cancel`]) await deleteNamespace(prefix);
    });

    async function exitOf(script: string): Promise<{ code: number | string; stdout: string[] }> {
      run = runCli([script], {
        command: [process.execPath, "--import", TSX, SCRIPTS],
        env: { REDIS_URL: await redisUrl(), SPEC_NAMESPACE: namespace, DRAMATS_LOG_LEVEL: "silent" },
      });
      const code = await run.exited(EXIT_DEADLINE);
      return { code, stdout: run.lines.map((l) => String(l.msg)) };
    }

    it("the README's Results snippet (a Redis result backend and a Redis barrier backend) exits after broker.close()", async () => {
      const { code, stdout } = await exitOf("results");
      expect(code, `stderr: ${run!.stderr()}`).to.equal(0);
      expect(stdout).to.include.members(["sum: 5", "pipeline: 12", "group: [2,4]", "chord: both added", "results done"]);
    });

    it("a worker with the RateLimit middleware on a Redis backend exits after broker.close()", async () => {
      const { code, stdout } = await exitOf("rateLimit");
      expect(code, `stderr: ${run!.stderr()}`).to.equal(0);
      expect(stdout).to.deep.equal(["ping: 1", "rateLimit done"]);
    });

    it("a worker with the Cancellation middleware on a Redis backend exits after broker.close()", async () => {
      const { code, stdout } = await exitOf("cancellation");
      expect(code, `stderr: ${run!.stderr()}`).to.equal(0);
      expect(stdout, "the cancelled message never ran").to.deep.equal(["ping: 2", "cancellation done"]);
    });

    it("a process that only sends, with all three Redis backends, exits after broker.close()", async () => {
      const { code, stdout } = await exitOf("sender");
      expect(code, `stderr: ${run!.stderr()}`).to.equal(0);
      expect(stdout.at(-1)).to.equal("sender done");
    });
  });

  describe("closing the chain", () => {
    it("closes every middleware once, last in the chain first, however often the broker is closed", async () => {
      const log: string[] = [];
      const broker = new StubBroker({ middleware: [new Closing("first", log), new Closing("second", log)] });
      await broker.close();
      await broker.close();
      expect(log).to.deep.equal(["second", "first"]);
    });

    it("keeps a middleware two brokers share open until the second of them closes", async () => {
      const log: string[] = [];
      const shared = new Closing("shared", log);
      const modules = new StubBroker({ middleware: [shared] });
      const fromUrl = new StubBroker({ middleware: [...modules.middleware] });
      await modules.close();
      expect(log, "still held by the other broker").to.deep.equal([]);
      await fromUrl.close();
      expect(log).to.deep.equal(["shared"]);
    });

    it("still closes the rest of the chain, and resolves, when one middleware fails to close", async () => {
      const log: string[] = [];
      const broker = new StubBroker({ middleware: [new Closing("first", log), new Closing("broken", log, new Error("boom"))] });
      await broker.close();
      expect(log).to.deep.equal(["broken", "first"]);
    });

    it("closes the backends of Results, RateLimit, GroupCallbacks and Cancellation", async () => {
      const closed: string[] = [];
      const results = new (class extends StubResultBackend {
        override async close() {
          closed.push("results");
        }
      })();
      const limits = new (class extends StubRateLimiterBackend {
        override async close() {
          closed.push("limits");
        }
      })();
      const cancellations = new (class extends StubCancellationBackend {
        override async close() {
          closed.push("cancellations");
        }
      })();
      const broker = new StubBroker({
        middleware: [
          new Results({ backend: results }),
          new RateLimit({ backend: limits }),
          new GroupCallbacks({ backend: limits }),
          new Cancellation({ backend: cancellations }),
        ],
      });
      await broker.close();
      expect(closed).to.deep.equal(["cancellations", "limits", "limits", "results"]);
    });
  });
});
