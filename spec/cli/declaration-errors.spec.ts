// A mistake in an actor's declaration is an import error (exit 2, at once, named), whichever
// of the module and the command line gives the broker the actors are declared on.
import { expect } from "chai";
import { cliSpec, FAST, ROOT } from "./run-cli.ts";
import { runOperator } from "./run-operator.ts";

const MODULE = `${ROOT}spec/fixtures/cli-bad-declaration.ts`;

const MISTAKES = {
  option: /Actor "misdeclared" got unknown option\(s\) maxRetrys; valid options are: .*maxRetries/,
  cron: /Actor misdeclared: invalid cron schedule "61 \* \* \* \*"/,
} as const;

describe("dramats with a bad actor declaration", function () {
  this.timeout(60_000);
  const spec = cliSpec("dramats-declaration-");

  const cases: { order: string; broker: string[]; what: string }[] = [
    // (the working directory is the test's own: the default broker's SQLite file goes there)
    { order: "before", broker: ["--broker", "sqlite://./jobs.sqlite"], what: "declared before any broker, the broker given by --broker" },
    { order: "before", broker: [], what: "declared before any broker, on the default broker" },
    { order: "before-set", broker: [], what: "declared before the module's setBroker" },
    { order: "after", broker: ["--broker", "sqlite://./jobs.sqlite"], what: "declared after the module's setBroker, with --broker" },
  ];

  for (const { order, broker, what } of cases) {
    for (const [bad, pattern] of Object.entries(MISTAKES)) {
      it(`exits 2 at once, naming the actor and the ${bad === "cron" ? "schedule" : "option"}: ${what}`, async () => {
        // Two processes: a boot failure retried would show as more than one report.
        const cli = spec.start([MODULE, "--processes", "2", ...broker, ...FAST], {
          cwd: spec.dir,
          env: { CLI_SPEC_ORDER: order, CLI_SPEC_BAD: bad },
        });
        expect(await cli.exited(30_000)).to.equal(2);
        const stderr = cli.stderr();
        expect(stderr).to.match(pattern);
        expect(stderr.match(/misdeclared/g), stderr).to.have.length(1);
        expect(stderr).to.not.include("failed to boot");
        expect(cli.lines.filter((l) => /failed to boot/.test(String(l.msg))).length, "boot attempts given up on").to.be.at.most(1);
      });
    }
  }

  it("an operator command exits 2 too, naming the actor and the option, when its --broker declares the actors", async () => {
    const run = await runOperator(["queues", MODULE, "--broker", "memory://"], { CLI_SPEC_ORDER: "before", CLI_SPEC_BAD: "option" });
    expect(run.code, run.stderr).to.equal(2);
    expect(run.stderr).to.match(MISTAKES.option);
  });
});
