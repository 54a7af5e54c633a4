// Runs examples/cpu-bound through the real `dramats` command against Redis, as its README says.
import { expect } from "chai";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { deleteNamespace, redisUrl, uniqueNamespace } from "../helpers/redis.ts";
import { cliSpec, isBootLine, ROOT, until } from "./run-cli.ts";

const run = promisify(execFile);

describe("examples/cpu-bound through the CLI", function () {
  this.timeout(30_000);
  const spec = cliSpec("dramats-example-");
  let namespace: string;

  beforeEach(() => {
    namespace = uniqueNamespace("dramats-example");
  });
  afterEach(async () => {
    await deleteNamespace(namespace);
  });

  it("blurs images on pool threads and reports each result from an async actor", async () => {
    const url = await redisUrl();
    const cli = spec.start([
      "examples/cpu-bound/actors.ts",
      "--broker", `${url}?namespace=${namespace}`,
      "--processes", "1", "--cpu-threads", "2", "--heartbeat-interval", "100", "--heartbeat-timeout", "5000",
    ]);
    const boot = await cli.waitFor(isBootLine);
    expect(boot.msg).to.include("actors blur (threaded), report;").and.to.include("2 CPU threads");

    const sent = await run(process.execPath, ["--import", "tsx", "examples/cpu-bound/enqueue.ts", "4"], {
      cwd: ROOT,
      env: { ...process.env, REDIS_URL: url, REDIS_NAMESPACE: namespace, DRAMATS_LOG_LEVEL: "warn" },
    });
    expect(sent.stdout.trim()).to.equal("sent 4 blur jobs");

    const reports = () => cli.lines.filter((l) => typeof l.msg === "string" && l.msg.startsWith("blurred photo-"));
    await until(() => reports().length === 4, 20_000);
    const byImage = new Map(reports().map((l) => [l.image as string, l]));
    expect([...byImage.keys()].sort()).to.deep.equal(["photo-0.png", "photo-1.png", "photo-2.png", "photo-3.png"]);
    for (const line of byImage.values()) {
      expect(line).to.include({ requestedBy: "enqueue.ts", width: 400, height: 300 });
      expect(line.mean).to.be.within(100, 155); // A blurred uniform-noise image is mid-grey.
    }
    expect(await cli.stop()).to.equal(0);
  });
});
