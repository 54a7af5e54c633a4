// Runs examples/cpu-bound's README commands as written (spec/readme/commands.ts), from the
// repository's folder, against Redis in a private namespace: a worker started with `npx dramats`,
// then the enqueue script in another shell.
import { expect } from "chai";
import { deleteNamespace, uniqueNamespace } from "../helpers/redis.ts";
import { privateRedis, readmeLine, ROOT, sh, shStart, userEnv } from "../readme/commands.ts";

const README = "examples/cpu-bound/README.md";

describe("examples/cpu-bound, as its README runs it", function () {
  this.timeout(240_000);
  let namespace: string;

  beforeEach(() => {
    namespace = uniqueNamespace("dramats-example");
  });
  afterEach(async () => {
    await deleteNamespace(namespace);
  });

  it("blurs images on pool threads and reports each result from an async actor", async () => {
    // A free metrics port: other runs on this machine may hold the default one.
    const env = userEnv({ DRAMATS_METRICS_PORT: "0" });
    const worker = shStart(privateRedis(readmeLine(README, "npx dramats examples/cpu-bound/actors.ts"), namespace), ROOT, env);
    try {
      // The first `npx dramats` in a checkout runs its `prepare` build once (npx installs the checkout into its cache).
      const boot = await worker.waitFor((l) => l.includes("dramats booted"), 150_000);
      expect(boot).to.include("actors blur (threaded), report;").and.to.include("2 processes").and.to.include("2 CPU threads");
      await worker.waitFor(() => worker.lines.filter((l) => l.includes('"Worker started"')).length === 2);

      const sent = await sh(privateRedis(readmeLine(README, "examples/cpu-bound/enqueue.ts 8"), namespace), ROOT, userEnv({ DRAMATS_LOG_LEVEL: "warn" }));
      expect(sent.code, sent.stderr).to.equal(0);
      expect(sent.stdout.trim()).to.equal("sent 8 blur jobs");

      const reports = () =>
        worker.lines
          .filter((l) => l.includes('"blurred photo-'))
          .map((l) => JSON.parse(l) as { image: string; requestedBy: string; width: number; height: number; mean: number });
      await worker.waitFor(() => reports().length === 8, 40_000);
      const byImage = new Map(reports().map((l) => [l.image, l]));
      expect([...byImage.keys()].sort()).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7].map((i) => `photo-${i}.png`));
      for (const line of byImage.values()) {
        expect(line).to.include({ requestedBy: "enqueue.ts", width: 400, height: 300 });
        expect(line.mean).to.be.within(100, 155); // A blurred uniform-noise image is mid-grey.
      }
    } finally {
      // Ctrl-C in the worker's terminal.
      await worker.stop("SIGINT");
    }
    const stopped = worker.lines.filter((l) => l.includes("All worker processes stopped")).map((l) => (JSON.parse(l) as { exitCode: number }).exitCode);
    expect(stopped, worker.lines.join("\n")).to.deep.equal([0]);
  });
});
