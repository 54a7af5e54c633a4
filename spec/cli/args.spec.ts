import { expect } from "chai";
import { availableParallelism } from "node:os";
import { CLI_DEFAULTS, parseArgs } from "../../lib/cli/args.ts";
import { CliError, ExitCode } from "../../lib/cli/exit-codes.ts";

/** Parses without printing; usage errors and help end up in `printed`. */
function parse(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const printed: string[] = [];
  const io = { out: (t: string) => printed.push(t), err: (t: string) => printed.push(t), env };
  try {
    return { options: parseArgs(argv, "1.2.3", io), printed, error: undefined };
  } catch (error) {
    return { options: undefined, printed, error: error as CliError };
  }
}

describe("dramats command line", () => {
  it("takes modules and fills in Dramatiq-like defaults", () => {
    const { options } = parse(["app/actors.ts", "more/actors"]);
    expect(options).to.deep.equal({
      modules: ["app/actors.ts", "more/actors"],
      processes: availableParallelism(),
      threads: CLI_DEFAULTS.threads,
      prefetch: undefined,
      cpuThreads: availableParallelism(),
      queues: undefined,
      broker: undefined,
      scheduler: true,
      store: undefined,
      grace: 600_000,
      watch: undefined,
      pidFile: undefined,
      logFile: undefined,
      verbose: false,
      maxMessages: undefined,
      maxMemory: undefined,
      heartbeatInterval: 1_000,
      heartbeatTimeout: 30_000,
      bootTimeout: 60_000,
      stallTimeout: 30_000,
      recoveryTimeout: undefined,
      registryInterval: 5_000,
      metrics: { host: "127.0.0.1", port: 9191 },
      dashboard: undefined,
    });
  });

  it("reads every option, with short forms", () => {
    const { options } = parse([
      "a.ts", "-p", "3", "-t", "16", "--cpu-threads", "2", "-Q", "emails", "reports", "-b", "redis://h:1/2",
      "--grace", "500", "--watch", "src", "--pid-file", "d.pid", "--log-file", "d.log", "-v",
      "--max-messages", "50", "--max-memory", "512", "--prefetch", "32",
    ]);
    expect(options).to.include({ processes: 3, threads: 16, cpuThreads: 2, broker: "redis://h:1/2", grace: 500, watch: "src" });
    expect(options).to.include({ pidFile: "d.pid", logFile: "d.log", verbose: true, maxMessages: 50, maxMemory: 512, prefetch: 32 });
    expect(options!.queues).to.deep.equal(["emails", "reports"]);
  });

  it("serves metrics on 127.0.0.1:9191 unless told another port, host, or --no-metrics", () => {
    expect(parse(["a.ts", "--metrics-port", "0", "--metrics-host", "0.0.0.0"]).options!.metrics).to.deep.equal({ host: "0.0.0.0", port: 0 });
    expect(parse(["a.ts", "--no-metrics"]).options!.metrics).to.equal(undefined);
    const fromEnv = parse(["a.ts"], { DRAMATS_METRICS_PORT: "9300", DRAMATS_METRICS_HOST: "0.0.0.0" }).options!.metrics;
    expect(fromEnv).to.deep.equal({ host: "0.0.0.0", port: 9300 });
  });

  it("takes the broker URL from DRAMATS_BROKER unless --broker is given", () => {
    expect(parse(["a.ts"], { DRAMATS_BROKER: "amqp://x" }).options!.broker).to.equal("amqp://x");
    expect(parse(["a.ts", "--broker", "redis://y"], { DRAMATS_BROKER: "amqp://x" }).options!.broker).to.equal("redis://y");
    expect(parse(["a.ts"], { DRAMATS_BROKER: "" }).options!.broker).to.equal(undefined);
  });

  it("runs cron schedules unless --no-scheduler is given", () => {
    expect(parse(["a.ts"]).options!.scheduler).to.equal(true);
    expect(parse(["a.ts", "--no-scheduler"]).options!.scheduler).to.equal(false);
  });

  it("rejects bad values with exit code 2, naming the option", () => {
    for (const argv of [["a.ts", "-p", "0"], ["a.ts", "--threads", "1.5"], ["a.ts", "--prefetch", "0"], ["a.ts", "--max-memory", "lots"], ["a.ts", "--nope"], []]) {
      const { error, printed } = parse(argv);
      expect(error, argv.join(" ")).to.be.instanceOf(CliError);
      expect(error!.exitCode).to.equal(ExitCode.IMPORT_ERROR);
      expect(printed.join("")).to.match(/error: /);
    }
  });

  it("takes --recovery-timeout in ms, at least 1000 (a value in seconds is a mistake it catches)", () => {
    expect(parse(["a.ts", "--recovery-timeout", "15000"]).options!.recoveryTimeout).to.equal(15_000);
    for (const value of ["0", "-5", "abc", "2.5", "60", "NaN"]) {
      const { error, printed } = parse(["a.ts", "--recovery-timeout", value]);
      expect(error, value).to.be.instanceOf(CliError);
      expect(error!.exitCode).to.equal(ExitCode.IMPORT_ERROR);
      expect(printed.join("")).to.match(/--recovery-timeout <ms>' argument .* expected an integer >= 1000/);
    }
  });

  it("prints help and the version with exit code 0", () => {
    const help = parse(["--help"]);
    expect(help.error!.exitCode).to.equal(ExitCode.OK);
    expect(help.printed.join("")).to.include("Usage: dramats [options] <modules...>");
    const version = parse(["--version"]);
    expect(version.error!.exitCode).to.equal(ExitCode.OK);
    expect(version.printed.join("")).to.equal("1.2.3\n");
  });
});
