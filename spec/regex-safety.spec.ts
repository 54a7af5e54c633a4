// No regular expression in the shipped code backtracks super-linearly (ReDoS, issue 25): many see
// attacker-controlled text (message content, error messages, broker replies, log fields), and one
// slow match blocks the worker. Every regular-expression literal under lib/, brokers/,
// middleware/ and examples/ is run on inputs built from its own characters (runs of one or two
// of them, around each literal piece of the pattern), the shapes that make a backtracking engine
// quadratic; each must finish in time proportional to its length. Dynamic `new RegExp(...)` calls
// cannot be checked this way and are refused.
import { expect } from "chai";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const DIRS = ["lib", "brokers", "middleware", "examples"];
/** Input length: a quadratic pattern takes ~100 ms here, a linear one well under 1 ms. */
const SIZE = 10_000;
const BUDGET_MS = 20;

interface Found {
  where: string;
  regex?: RegExp;
  dynamic?: string;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "node_modules" ? [] : sources(path);
    return /\.[cm]?ts$/.test(entry.name) && !entry.name.endsWith(".d.ts") ? [path] : [];
  });
}

function regexesIn(file: string): Found[] {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const found: Found[] = [];
  const where = (node: ts.Node) => `${relative(ROOT, file)}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
  const visit = (node: ts.Node) => {
    if (node.kind === ts.SyntaxKind.RegularExpressionLiteral) {
      const text = node.getText();
      const end = text.lastIndexOf("/");
      found.push({ where: where(node), regex: new RegExp(text.slice(1, end), text.slice(end + 1)) });
    } else if ((ts.isNewExpression(node) || ts.isCallExpression(node)) && node.expression.getText() === "RegExp") {
      found.push({ where: where(node), dynamic: node.getText() });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The literal pieces of a pattern (`://` in `[a-z]+:\/\/`) and its characters, plus a few every text has. */
function alphabetOf(pattern: string): { chars: string[]; pieces: string[] } {
  const chars = new Set(["a", "Z", "0", " ", "\n", ":", "/", "@", '"', "\\", "-", "."]);
  const pieces: string[] = [];
  let piece = "";
  const cut = () => {
    if (piece.length > 1) pieces.push(piece);
    piece = "";
  };
  for (let i = 0; i < pattern.length; i++) {
    let c = pattern[i]!;
    if (c === "\\") {
      c = pattern[++i] ?? "";
      if ("dDwWsSbBnrtfv0123456789pPuxck".includes(c)) {
        cut();
        continue;
      }
    } else if ("^$.|?*+()[]{}".includes(c)) {
      cut();
      continue;
    }
    chars.add(c);
    piece += c;
  }
  cut();
  return { chars: [...chars], pieces: [...new Set(pieces)] };
}

/** Inputs that drive a backtracking matcher to its worst case, each about SIZE characters. */
function* adversarial(pattern: string): Generator<string> {
  const { chars, pieces } = alphabetOf(pattern);
  const half = SIZE / 2;
  for (const c of chars) yield `${c.repeat(SIZE)}\u0001`;
  for (const c of chars) for (const d of chars) if (c !== d) yield `${c.repeat(half)}${d.repeat(half)}\u0001`;
  for (const piece of pieces) {
    for (const c of chars) {
      yield `${piece}${c.repeat(SIZE)}\u0001`;
      yield `${piece.repeat(SIZE / piece.length)}${c}\u0001`;
      for (const d of chars) yield `${c.repeat(half)}${piece}${d.repeat(half)}\u0001`;
    }
  }
}

/** CPU time (ms, not inflated by a busy machine) of a test and a global replace (which tries every start position) on `input`. */
function cost(regex: RegExp, input: string): number {
  const start = process.cpuUsage();
  new RegExp(regex.source, regex.flags.replace(/[gy]/g, "")).test(input);
  input.replace(new RegExp(regex.source, regex.flags.includes("g") ? regex.flags : `${regex.flags}g`), "");
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

describe("regular expressions in the shipped code", function () {
  this.timeout(120_000);
  const found = DIRS.flatMap((dir) => sources(join(ROOT, dir))).flatMap(regexesIn);

  it("are all literals (a pattern built at run time cannot be reviewed)", () => {
    expect(found.filter((f) => f.dynamic !== undefined).map((f) => `${f.where}: ${f.dynamic}`)).to.deep.equal([]);
    expect(found.length, "no regular expressions found: is the scan broken?").to.be.above(5);
  });

  it("match in linear time on adversarial inputs built from their own characters", () => {
    for (const { where, regex } of found) {
      if (regex === undefined) continue;
      for (const input of adversarial(regex.source)) {
        // A pause of the machine is not the pattern's: only a second slow run counts.
        if (cost(regex, input) < BUDGET_MS || cost(regex, input) < BUDGET_MS) continue;
        expect.fail(`${where} ${regex} took over ${BUDGET_MS} ms on ${JSON.stringify(input.slice(0, 40))}... (${input.length} characters)`);
      }
    }
  });
});
