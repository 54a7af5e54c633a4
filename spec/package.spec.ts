// The package as a user installs it, by the README's Install block run as written
// (spec/readme/commands.ts): in a folder holding `dramats` (a git clone of a copy of the working
// tree) and `my-app`, `npm pack` there (the `prepare` script builds dist/, as `npm install git+...`
// would), then the tarball installed into the app. Every subpath export imports, the bin runs, a
// worker started with `npx dramats` runs a job on the default SQLite broker, `dramats/dashboard`
// serves its built pages and API, and the README's in-app commands (spec/readme/in-app.ts) run in
// the same app: one install for all of them.
import { expect } from "chai";
import { execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { copyRepository, ROOT } from "./helpers/repo-copy.ts";
import { afterNpmCi, readmeLine, sh, userEnv } from "./readme/commands.ts";
import { inAppCommands } from "./readme/in-app.ts";

const run = promisify(execFile);
/** npm's own environment for a child: no broker settings of the spec run leak into the app; installs come from npm's cache. */
const env = userEnv({ npm_config_prefer_offline: "true", npm_config_audit: "false", npm_config_fund: "false" });

describe("the packed package, installed into an app", function () {
  // Installing compiles better-sqlite3 from source (no prebuilt binaries reach this network).
  this.timeout(600_000);
  let copy: string;
  let work: string;
  let app: string;
  let tarball: string;
  let help: string;

  before(async () => {
    copy = copyRepository("dramats-pack-");
    // The working tree as a repository to clone (its node_modules link is ignored by .gitignore).
    await run("git", ["init", "-q"], { cwd: copy });
    await run("git", ["add", "-A"], { cwd: copy });
    await run("git", ["-c", "user.name=spec", "-c", "user.email=spec@localhost", "commit", "-qm", "working tree"], { cwd: copy });
    work = mkdtempSync(join(tmpdir(), "dramats-pack-out-"));
    app = join(work, "my-app");
    mkdirSync(app);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "my-app", private: true, type: "module" }));
    const dramats = join(work, "dramats");
    const step = async (line: string, cwd: string) => {
      const ran = await sh(line, cwd, { ...env, REPOSITORY: copy }, 580_000);
      expect(ran.code, `${line}\n${ran.stdout}\n${ran.stderr}`).to.equal(0);
      return ran.stdout;
    };
    await step(readmeLine("README.md", 'git clone "$REPOSITORY" dramats && cd dramats'), work);
    symlinkSync(join(ROOT, "node_modules"), join(dramats, "node_modules"), "dir");
    await step(afterNpmCi(readmeLine("README.md", "npm ci && npm pack")), dramats);
    tarball = join(dramats, "dramats-0.1.0.tgz");
    await step(readmeLine("README.md", "cd ../my-app && npm install ../dramats/dramats-0.1.0.tgz"), dramats);
    help = await step(readmeLine("README.md", "npx dramats --help"), app);
  });
  after(() => {
    if (copy !== undefined) rmSync(copy, { recursive: true, force: true });
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it("holds the built library, the bin, the Lua scripts and source maps that carry their sources", async () => {
    const { stdout } = await run("tar", ["-tzf", tarball]);
    const files = stdout.split("\n").filter(Boolean);
    expect(files).to.include.members(["package/package.json", "package/README.md", "package/dist/lib/index.js", "package/dist/lib/index.d.ts", "package/dist/lib/cli/main.js", "package/dist/brokers/redis/fetch.lua", "package/dist/lib/dashboard/index.js", "package/dist/lib/dashboard/index.d.ts", "package/dist/ui/index.html", "package/dist/ui/app.js"]);
    // No TypeScript sources ship, so a stack trace mapped through a source map must find the
    // source inside the map.
    expect(files.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))).to.deep.equal([]);
    const installed = join(app, "node_modules", "dramats");
    const maps = files.filter((f) => f.endsWith(".js.map")).map((f) => f.slice("package/".length));
    expect(maps.length).to.be.greaterThan(20);
    for (const map of maps) {
      const parsed = JSON.parse(readFileSync(join(installed, map), "utf8")) as { sourcesContent?: unknown[] };
      expect(parsed.sourcesContent?.length, `${map} carries its sources`).to.be.greaterThan(0);
    }
  });

  it("imports every subpath export", async () => {
    const installed = join(app, "node_modules", "dramats");
    const manifest = JSON.parse(readFileSync(join(installed, "package.json"), "utf8")) as { exports: Record<string, unknown> };
    const specifiers: string[] = [];
    for (const key of Object.keys(manifest.exports)) {
      if (!key.includes("*")) specifiers.push(key === "." ? "dramats" : `dramats${key.slice(1)}`);
      else {
        const [prefix, suffix] = key.slice(2).split("*") as [string, string];
        for (const name of readdirSync(join(installed, "dist", prefix))) {
          if (name.endsWith(".js")) specifiers.push(`dramats/${prefix}${name.slice(0, -3)}${suffix}`);
        }
      }
    }
    expect(specifiers).to.include.members(["dramats", "dramats/brokers/redis", "dramats/brokers/rabbitmq", "dramats/brokers/sqlite", "dramats/brokers/stub", "dramats/dashboard", "dramats/middleware/retries"]);
    const script = `const failed = [];\nfor (const s of ${JSON.stringify(specifiers)}) {\n  try { const m = await import(s); if (Object.keys(m).length === 0) failed.push(s + ": no exports"); } catch (e) { failed.push(s + ": " + e.message); }\n}\nconsole.log(JSON.stringify(failed));\n`;
    writeFileSync(join(app, "imports.js"), script);
    const { stdout } = await run(process.execPath, ["imports.js"], { cwd: app, env });
    expect(JSON.parse(stdout)).to.deep.equal([]);
  });

  it("serves the dashboard from `dramats/dashboard`: its built pages and its API", async () => {
    writeFileSync(
      join(app, "dashboard.js"),
      `import { createServer } from "node:http";\n` +
        `import { actor } from "dramats";\n` +
        `import { StubBroker } from "dramats/brokers/stub";\n` +
        `import { dashboard } from "dramats/dashboard";\n` +
        `const broker = new StubBroker();\n` +
        `actor(function packedDash() {}, { broker, queueName: "packed-dash" });\n` +
        `const handler = dashboard({ broker, base: "/jobs" });\n` +
        `const server = createServer(handler);\n` +
        `await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));\n` +
        `const origin = "http://127.0.0.1:" + server.address().port + "/jobs";\n` +
        `const page = await fetch(origin + "/");\n` +
        `const script = await fetch(origin + "/assets/app.js");\n` +
        `const overview = await (await fetch(origin + "/api/overview")).json();\n` +
        `console.log(JSON.stringify({ page: page.status, title: (await page.text()).includes("<title>dramats dashboard</title>"), script: script.status, queues: overview.queues.map((q) => q.name) }));\n` +
        `server.close();\n` +
        `await handler.close();\n` +
        `await broker.close();\n`,
    );
    const { stdout } = await run(process.execPath, ["dashboard.js"], { cwd: app, env: { ...env, DRAMATS_LOG_LEVEL: "silent" } });
    expect(JSON.parse(stdout)).to.deep.equal({ page: 200, title: true, script: 200, queues: ["packed-dash"] });
  });

  it("runs `npx dramats --help`", () => {
    expect(help).to.match(/^Usage: dramats \[options\] <modules\.\.\.>/);
  });

  it("runs a job sent from the app with `npx dramats app.js`, on the default SQLite broker", async () => {
    writeFileSync(
      join(app, "actors.js"),
      `import { actor, connect } from "dramats";\n` +
        `export const broker = await connect();\n` +
        `export const hello = actor(function hello(name) { console.log("hello " + name); }, { queueName: "packed" });\n`,
    );
    writeFileSync(join(app, "send.js"), `import { broker, hello } from "./actors.js";\nawait hello.send("packed app");\nawait broker.close();\n`);
    await run(process.execPath, ["send.js"], { cwd: app, env });
    const worker = spawn("npx", ["dramats", "actors.js", "--processes", "1", "--no-metrics"], { cwd: app, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let stderr = "";
    worker.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const lines: string[] = [];
    const closed = new Promise<void>((resolve) => worker.on("close", () => resolve()));
    const ran = await new Promise<boolean>((resolve) => {
      createInterface({ input: worker.stdout! }).on("line", (line) => {
        lines.push(line);
        if (line.includes("hello packed app")) resolve(true);
      });
      void closed.then(() => resolve(false));
    });
    expect(ran, `the worker ran the job; stderr:\n${stderr}`).to.equal(true);
    // The whole group, as a terminal's Ctrl-C or a container stop signals it; npx itself dies of
    // the signal, so the supervisor's own last line tells how dramats stopped.
    process.kill(-worker.pid!, "SIGTERM");
    await closed;
    const stopped = lines.filter((line) => line.includes("All worker processes stopped")).map((line) => (JSON.parse(line) as { exitCode: number }).exitCode);
    expect(stopped, lines.join("\n")).to.deep.equal([0]);
  });

  inAppCommands(() => app, env);
});
