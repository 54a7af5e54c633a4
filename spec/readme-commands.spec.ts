// Every command a README tells a user to type is run by some spec exactly as written (with only
// the changes spec/readme/commands.ts lists) or by CI itself. This spec keeps the table of where
// each line runs and fails when a README gains a line the table does not place, when the table
// names a line no README has, or when the file it names neither contains the line nor reads it
// from that README with readmeLine(), so the table cannot claim a run that does not exist.
import { expect } from "chai";
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { linesFor, readmeCommands, ROOT } from "./readme/commands.ts";

const CI = ".ci/run";
const PACKAGE = "spec/package.spec.ts";
/** Run by spec/package.spec.ts, in the app it installed. */
const IN_APP = "spec/readme/in-app.ts";

/** README line, exactly as written → where it runs. */
const WHERE: Record<string, string> = {
  "npm ci && npm run quickstart    # install, then run the quick start end to end: nothing else to install or start": "spec/readme-main-job.spec.ts",
  "npm ci && npm test              # install, then typecheck and run every spec (needs Redis, RabbitMQ, PostgreSQL and Chromium, see Testing)": CI,
  'git clone "$REPOSITORY" dramats && cd dramats     # REPOSITORY: this repository\'s URL; beside your my-app/': PACKAGE,
  "npm ci && npm pack                               # builds dist/ and writes dramats-0.1.0.tgz": PACKAGE,
  "cd ../my-app && npm install ../dramats/dramats-0.1.0.tgz": PACKAGE,
  "npx dramats --help": PACKAGE,
  "DRAMATS_BROKER=redis://127.0.0.1:6379 npm run quickstart    # the same quick start, on Redis": "spec/readme-main-job.spec.ts",
  "DRAMATS_BROKER=amqp://guest:guest@127.0.0.1:5672 npx dramats app/actors.ts": IN_APP,
  "npx dramats app/actors.ts --broker redis://127.0.0.1:6379 --processes 4 --threads 8": IN_APP,
  "npx dramats queues app/actors.ts --queue legacy          # ready, delayed, in flight, dead per queue": IN_APP,
  "npx dramats dead-letters emails --broker redis://127.0.0.1:6379 --limit 20   # id, time and reason, oldest first": IN_APP,
  'npx dramats requeue emails --id "$MESSAGE_ID"            # or more --id, or --all; retry counts start again': IN_APP,
  "npx dramats purge emails --yes                           # drops ready, delayed and dead messages": IN_APP,
  "npx dramats schedules app/actors.ts --next 5             # cron actors: next runs, last tick enqueued": IN_APP,
  'npx dramats cancel "$MESSAGE_ID" app/actors.ts           # through the modules\' Cancellation middleware': IN_APP,
  "npx dramats workers --broker redis://127.0.0.1:6379                 # host, pid, status, last beat, running, counts, RSS, CPU, lag": IN_APP,
  "npx dramats workers --broker redis://127.0.0.1:6379 --running       # the messages running now, each with its elapsed time": IN_APP,
  "npx dramats health --broker redis://127.0.0.1:6379 --max-age 30     # exit 0, or 1 with one line per queue no live worker serves": IN_APP,
  'DRAMATS_DASHBOARD_TOKEN="$TOKEN" npx dramats dashboard app/actors.ts --broker redis://127.0.0.1:6379': IN_APP,
  "npm test": CI,
  // Run as written by the spec, with no Dramatiq source at that path: it must say so and how to get it.
  // The full check (with a real DRAMATIQ_SRC) is run by hand; see README "Sharing queues with Python Dramatiq".
  "DRAMATIQ_SRC=/path/to/dramatiq-2.2.0 npm run interop:python": "spec/interop/python-check.spec.ts",
  "REDIS_URL=redis://127.0.0.1:6379 AMQP_URL=amqp://guest:guest@127.0.0.1:5672 npm run bench": "spec/readme-bench.spec.ts",
  "npm run bench -- --quick              # under two minutes: 10,000 messages, 3 rounds": "spec/readme-bench.spec.ts",
  "npm run bench -- latency              # one script: throughput, latency, threads, memory, dashboard or postgres": "spec/readme-bench.spec.ts",
  "npm run bench -- ab --base HEAD~1     # working tree against a commit, side by side": "spec/readme-bench.spec.ts",
  "npm run bench -- profile              # --cpu-prof of a worker draining no-op messages": "spec/readme-bench.spec.ts",
  "npm run chaos -- --profile short                                            # what CI runs after npm test": CI,
  "npm run chaos -- --profile tiny --broker sqlite --scenario poison           # one scenario on one broker: seconds": "spec/chaos/chaos.spec.ts",
  "npm run chaos -- --profile tiny --broker sqlite --scenario poison --break   # reports 6 lost, exits 1": "spec/chaos/chaos.spec.ts",
  // No Docker engine on this machine or CI: checked against the files, not run (docker/README.md says so).
  "docker compose -f docker/compose.yml up --build": "spec/docker.spec.ts",
  [`curl -s -XPOST localhost:8000/jobs -d '{"text": "to be or not to be"}'   # -> {"id": "...", "url": "/jobs/..."}`]: "spec/docker.spec.ts",
  'curl -s "localhost:8000/jobs/$JOB_ID?wait=5000"                             # JOB_ID: that id -> {"state": "done", ...}': "spec/docker.spec.ts",
  "npx dramats examples/cpu-bound/actors.ts --broker redis://127.0.0.1:6379 --processes 2 --cpu-threads 2": "spec/cli/example-cpu-bound.spec.ts",
  "REDIS_URL=redis://127.0.0.1:6379 node --import tsx examples/cpu-bound/enqueue.ts 8": "spec/cli/example-cpu-bound.spec.ts",
  "node --import tsx examples/web-enqueue/server.ts": "spec/examples/web-enqueue.spec.ts",
  [`curl -s -XPOST "localhost:\${PORT:-8000}/jobs" -d '{"text": "the cat and the hat"}'   # -> {"id": "...", "url": "/jobs/..."}`]: "spec/examples/web-enqueue.spec.ts",
  'curl -s "localhost:${PORT:-8000}/jobs/$JOB_ID?wait=5000"                            # JOB_ID: that id': "spec/examples/web-enqueue.spec.ts",
  "export BROKER_URL=redis://127.0.0.1:6379": "spec/examples/web-enqueue.spec.ts",
  "npx dramats examples/web-enqueue/actors.ts --processes 2     # no --broker: actors.ts sets it": "spec/examples/web-enqueue.spec.ts",
  "node --import tsx examples/web-enqueue/server.ts              # in another terminal": "spec/examples/web-enqueue.spec.ts",
  "export DATABASE_URL='postgres://postgres@127.0.0.1:5432/test?schema=shop_jobs'": "spec/examples/postgres-transactions.spec.ts",
  "node --import tsx examples/postgres-transactions/app.ts setup": "spec/examples/postgres-transactions.spec.ts",
  "node --import tsx examples/postgres-transactions/app.ts order ada@example.com": "spec/examples/postgres-transactions.spec.ts",
  "node --import tsx examples/postgres-transactions/app.ts order bob@example.com --pg": "spec/examples/postgres-transactions.spec.ts",
  "node --import tsx examples/postgres-transactions/app.ts order cyd@example.com --fail": "spec/examples/postgres-transactions.spec.ts",
  "node --import tsx examples/postgres-transactions/app.ts order dee@example.com --pg --fail": "spec/examples/postgres-transactions.spec.ts",
  "npx dramats examples/postgres-transactions/actors.ts --processes 1": "spec/examples/postgres-transactions.spec.ts",
  "node --import tsx examples/postgres-transactions/app.ts report": "spec/examples/postgres-transactions.spec.ts",
  "export DRAMATS_BROKER=redis://127.0.0.1:6379": "spec/examples/dashboard.spec.ts",
  "export DRAMATS_DASHBOARD_TOKEN=change-me      # the operator token: choose your own": "spec/examples/dashboard.spec.ts",
  "node --import tsx examples/dashboard/app.ts": "spec/examples/dashboard.spec.ts",
  [`curl -s -XPOST "localhost:\${PORT:-3000}/signup" -H 'content-type: application/json' -d '{"email": "ada@example.org", "name": "Ada"}'   # -> {"id": "..."}`]: "spec/examples/dashboard.spec.ts",
  "npx dramats examples/dashboard/actors.ts --processes 1     # the workers, in another terminal": "spec/examples/dashboard.spec.ts",
};

/**
 * The `readmeLine(FILE, "snippet")` calls in a spec's source, FILE a string literal or a
 * constant declared as one (`const README = "examples/x/README.md"`).
 */
function readmeLineCalls(source: string): { file: string; snippet: string }[] {
  const constants = new Map([...source.matchAll(/const (\w+) = ("[^"]+\.md")/g)].map((m) => [m[1]!, JSON.parse(m[2]!) as string]));
  const calls: { file: string; snippet: string }[] = [];
  for (const match of source.matchAll(/readmeLine\(\s*("[^"]+"|\w+)\s*,\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\s*\)/g)) {
    const file = match[1]!.startsWith('"') ? (JSON.parse(match[1]!) as string) : constants.get(match[1]!);
    const snippet = match[2]!.startsWith("'") ? match[2]!.slice(1, -1).replace(/\\'/g, "'") : (JSON.parse(match[2]!) as string);
    if (file !== undefined) calls.push({ file, snippet });
  }
  return calls;
}

/** A line without its trailing `# comment` (a `#` after blanks, outside quotes in these READMEs). */
const withoutComment = (line: string) => line.replace(/\s{2,}#.*$/, "").replace(/\s+#\s[^'"]*$/, "").trim();

describe("the READMEs' commands", () => {
  const commands = readmeCommands();

  it("are all placed: every command line of every tracked README's shell blocks is in the table", () => {
    expect(commands.length).to.be.greaterThan(30);
    const unplaced = commands.filter((c) => !(c.text in WHERE)).map((c) => `${c.file}:${c.line}: ${c.text}`);
    expect(unplaced, "lines no spec runs: add each to WHERE with the spec that runs it").to.deep.equal([]);
  });

  it("are each written once (the table keys them by their text)", () => {
    const seen = new Map<string, string>();
    const twice = commands.filter((c) => seen.has(c.text) || !seen.set(c.text, c.file)).map((c) => `${c.file}:${c.line}`);
    expect(twice).to.deep.equal([]);
  });

  it("has no line that no README holds", () => {
    const written = new Set(commands.map((c) => c.text));
    expect(Object.keys(WHERE).filter((text) => !written.has(text))).to.deep.equal([]);
  });

  it("names, for each line, a file that holds the command or reads that very line from its README", () => {
    const wrong: string[] = [];
    for (const { file, text } of commands) {
      const where = WHERE[text];
      if (where === undefined) continue;
      if (!existsSync(join(ROOT, where))) {
        wrong.push(`${where} (for ${text}) does not exist`);
        continue;
      }
      const source = readFileSync(join(ROOT, where), "utf8");
      if (!where.endsWith(".spec.ts") && where !== CI && !Object.values(WHERE).some((spec) => spec.endsWith(".spec.ts") && readFileSync(join(ROOT, spec), "utf8").includes(`/${basename(where)}"`))) {
        wrong.push(`${where} (for ${text}) is imported by no spec of the table`);
      }
      const command = withoutComment(text);
      // CI's script runs `npm ci` and `npm test` as steps of its own (with flags for npm ci).
      const held = where === CI ? command.split(" && ").every((part) => source.split("\n").some((l) => l.trim().startsWith(part))) : source.includes(command);
      const read = readmeLineCalls(source).some((call) => call.file === file && linesFor(commands.filter((c) => c.file === file), call.snippet).some((c) => c.text === text));
      if (!held && !read) wrong.push(`${where} neither holds nor reads ${file}: ${text}`);
    }
    expect(wrong).to.deep.equal([]);
  });

  it("reads the README lines with snippets that pick out exactly one line each", () => {
    const specs = [...new Set(Object.values(WHERE))].filter((where) => where !== CI && existsSync(join(ROOT, where)));
    const bad: string[] = [];
    for (const where of specs) {
      for (const call of readmeLineCalls(readFileSync(join(ROOT, where), "utf8"))) {
        const hits = linesFor(commands.filter((c) => c.file === call.file), call.snippet);
        if (hits.length !== 1) bad.push(`${where}: readmeLine(${call.file}, ${call.snippet}) matches ${hits.length} lines`);
      }
    }
    expect(bad).to.deep.equal([]);
  });
});
