// Readers for the deployment files under docker/ (used by spec/docker.spec.ts): a small
// Dockerfile parser, compose helpers, durations, and the metric names a PromQL expression uses.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import YAML from "yaml";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export function readText(path: string): string {
  return readFileSync(ROOT + path, "utf8");
}

/** YAML as compose reads it: `<<` merge keys resolved. */
export function readYaml<T = any>(path: string): T {
  return YAML.parse(readText(path), { merge: true }) as T;
}

// ---- Dockerfile ------------------------------------------------------------------------------

export interface Instruction {
  keyword: string;
  args: string;
}

export interface Stage {
  name: string | undefined;
  /** The base image, build ARGs substituted, or the name of an earlier stage. */
  from: string;
  instructions: Instruction[];
}

/** Stages of a Dockerfile, with line continuations joined and comments dropped. */
export function parseDockerfile(text: string): Stage[] {
  const logical = text
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("#"))
    .join("\n")
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, keyword, rest] = /^(\S+)\s*(.*)$/.exec(line)!;
    const instruction = { keyword: keyword!.toUpperCase(), args: rest!.replace(/\s+/g, " ") };
    if (instruction.keyword === "FROM") {
      const [image, as, name] = instruction.args.replace(/\$\{(\w+)\}/g, (_, v: string) => args.get(v) ?? "").split(" ");
      stages.push({ name: as?.toUpperCase() === "AS" ? name : undefined, from: image!, instructions: [] });
    } else if (stages.length === 0) {
      if (instruction.keyword === "ARG") {
        const [name, value = ""] = instruction.args.split("=");
        args.set(name!, value);
      }
    } else {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return stages;
}

/** A stage and the stages it is built FROM, nearest first. */
export function stageChain(stages: Stage[], stage: Stage): Stage[] {
  const chain = [stage];
  for (let s = stage; ; ) {
    const base = stages.find((b) => b.name === s.from);
    if (base === undefined) return chain;
    chain.push(base);
    s = base;
  }
}

/** RUN commands of a stage and its bases. */
export function runsOf(stages: Stage[], stage: Stage): string[] {
  return stageChain(stages, stage).flatMap((s) => s.instructions.filter((i) => i.keyword === "RUN").map((i) => i.args));
}

export interface Copy {
  from: string | undefined;
  sources: string[];
  dest: string;
}

export function copiesOf(stage: Stage): Copy[] {
  return stage.instructions
    .filter((i) => i.keyword === "COPY")
    .map((i) => {
      const words = i.args.split(" ");
      const flags = words.filter((w) => w.startsWith("--"));
      const paths = words.filter((w) => !w.startsWith("--"));
      const from = flags.find((f) => f.startsWith("--from="))?.slice("--from=".length);
      return { from, sources: paths.slice(0, -1), dest: paths.at(-1)! };
    });
}

/** The JSON (exec) form of an instruction such as ENTRYPOINT, or of HEALTHCHECK's CMD. */
export function execForm(args: string): string[] {
  const json = args.slice(args.indexOf("["));
  return JSON.parse(json) as string[];
}

/** `ENV A=1 B=2` instructions of a stage and its bases (nearest wins). */
export function envOf(stages: Stage[], stage: Stage): Map<string, string> {
  const env = new Map<string, string>();
  for (const s of stageChain(stages, stage).reverse()) {
    for (const i of s.instructions.filter((x) => x.keyword === "ENV")) {
      for (const pair of i.args.split(" ")) {
        const [name, value = ""] = pair.split("=");
        env.set(name!, value);
      }
    }
  }
  return env;
}

// ---- compose -------------------------------------------------------------------------------

/** A value after compose's `${VAR:-default}` interpolation with no variables set. */
export function interpolateDefaults(value: string): string {
  return value.replace(/\$\{\w+(?::?-([^}]*))?\}/g, (_, fallback: string | undefined) => fallback ?? "");
}

/** A service's environment as a map, whichever form (list or mapping) it is written in. */
export function environmentOf(service: { environment?: Record<string, unknown> | string[] }): Map<string, string> {
  const env = service.environment ?? {};
  const entries = Array.isArray(env) ? env.map((e) => e.split(/=(.*)/s).slice(0, 2)) : Object.entries(env).map(([k, v]) => [k, String(v ?? "")]);
  return new Map(entries.map(([k, v]) => [k!, interpolateDefaults(v ?? "")]));
}

/** Go-style durations as compose writes them ("45s", "1m30s", "500ms") in milliseconds. */
export function durationMs(text: string): number {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) throw new Error(`Not a duration: ${text}`);
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * units[unit!]!, 0);
}

// ---- PromQL --------------------------------------------------------------------------------

const PROMQL_WORDS = new Set(["and", "or", "unless", "bool", "offset", "inf", "nan", "by", "without", "on", "ignoring", "group_left", "group_right"]);

/**
 * The metric names and label names an expression uses. Not a full PromQL parser: enough for
 * dashboard queries (functions, aggregations with by/without, selectors, ranges, Grafana variables).
 */
export function promqlNames(expr: string): { metrics: string[]; labels: string[] } {
  const labels: string[] = [];
  let rest = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\$\{?\w+\}?/g, " ")
    .replace(/\[[^\]]*\]/g, " ");
  rest = rest.replace(/\{([^}]*)\}/g, (_, body: string) => {
    for (const m of body.matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)) labels.push(m[1]!);
    return " ";
  });
  rest = rest.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_, __, list: string) => {
    labels.push(...list.split(",").map((l) => l.trim()).filter(Boolean));
    return " ";
  });
  rest = rest.replace(/(^|[^\w.])\d+(\.\d+)?(e[+-]?\d+)?/gi, "$1 ");
  const metrics: string[] = [];
  for (const m of rest.matchAll(/[a-zA-Z_:][\w:]*/g)) {
    const after = rest.slice(m.index + m[0].length).trimStart();
    if (after.startsWith("(") || PROMQL_WORDS.has(m[0].toLowerCase())) continue;
    metrics.push(m[0]);
  }
  return { metrics, labels };
}
