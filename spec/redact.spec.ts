// lib/redact.ts: every log line and all operator output pass through it, and its input is
// attacker-controlled (message arguments, error messages, broker replies), so it must take
// linear time whatever the text, and mask passwords by structure, whatever their length.
import { expect } from "chai";
import { addSecret, redact, redactJson, scrubSecrets } from "../lib/redact.ts";

const MB = 1 << 20;
/** The budget for 1 MB (issue 25); smaller inputs get the same, so a quadratic scan fails on the first, small, size. */
const BUDGET_MS = 50;

/**
 * CPU time of the fastest of five runs, in ms: the scan's own cost, which a busy machine (other
 * processes on the same cores, a GC pause) inflates less than wall-clock time.
 */
function timed(run: () => unknown): number {
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const start = process.cpuUsage();
    run();
    const used = process.cpuUsage(start);
    best = Math.min(best, (used.user + used.system) / 1000);
  }
  return best;
}

/** `unit` (ASCII) repeated to `size` characters, as one flat string like a log line (not a rope of repeats). */
const fill = (unit: string, size: number) => Buffer.from(unit.repeat(Math.ceil(size / unit.length)).slice(0, size), "latin1").toString("latin1");

/** Shapes that made backtracking scans blow up, each built to about `size` characters. */
const SHAPES: Record<string, (size: number) => string> = {
  "letters, ://a:, then no @": (n) => `${fill("a", n / 2)}://a:${fill("b", n / 2)}`,
  "repeated ://a: segments": (n) => fill("a://a:", n),
  "repeated a:// segments with no userinfo end": (n) => fill("a://", n),
  "long scheme run then ://": (n) => `${fill("a1+.-", n)}://u:p@h`,
  "many @ after a userinfo": (n) => `x://u:${fill("@", n)}`,
  "many :@ pairs": (n) => `x://${fill(":@", n)}`,
  "colons, no @": (n) => `x://${fill(":", n)}`,
  "many matches": (n) => fill("a://u:p@h ", n),
  "password keys with unterminated strings": (n) => fill('"password":"\\"', n),
  "password keys with long whitespace": (n) => `"password"${fill(" ", n / 2)}:${fill(" ", n / 2)}x`,
  "AUTH tokens": (n) => fill('"AUTH","', n),
  "auth command objects": (n) => fill('{"name":"auth","args":["', n),
  "quotes and backslashes": (n) => fill('"\\', n),
  "a registered secret's prefix, repeated": (n) => fill("adversarial-secre", n),
};

describe("redact", () => {
  before(() => addSecret("adversarial-secret-9"));

  for (const [name, build] of Object.entries(SHAPES)) {
    it(`takes linear time on adversarial text: ${name}`, () => {
      // Warm the scans up first, as a worker's are after its first log lines: the first runs of
      // cold code cost several times the steady state, which is what the budget is about.
      const small = build(16 * 1024);
      for (let i = 0; i < 30; i++) redactJson(redact(small));
      for (const size of [16 * 1024, MB]) {
        const text = build(size);
        for (const [fn, run] of [
          ["redact", () => redact(text)],
          ["redactJson", () => redactJson(text)],
        ] as const) {
          const ms = timed(run);
          expect(ms, `${fn} on ${text.length} characters took ${ms.toFixed(1)} ms`).to.be.below(BUDGET_MS);
        }
      }
    });
  }

  it("masks URL passwords of any length, as a URL parser splits the userinfo", () => {
    expect(redact("failed: amqp://guest:g@rabbit:5672/ down")).to.equal("failed: amqp://guest:***@rabbit:5672/ down");
    expect(redact("redis://:x@h redis://a@b:c@h/ x://u:p@ss@h?q=@ x://nocreds@h")).to.equal("redis://:***@h redis://a@b:***@h/ x://u:***@h?q=@ x://nocreds@h");
    expect(redact("ftp://x:@h 1+://u:p@h")).to.equal("ftp://x:@h 1+://u:p@h");
  });

  it("masks short passwords where the structure says they are credentials", () => {
    const line = JSON.stringify({ command: { name: "hello", args: ["3", "AUTH", "user", "p"] }, b: { name: "AUTH", args: ["q"] }, o: { password: "r", host: "h" } });
    expect(JSON.parse(redactJson(line))).to.deep.equal({
      command: { name: "hello", args: ["3", "AUTH", "user", "***"] },
      b: { name: "AUTH", args: ["***"] },
      o: { password: "***", host: "h" },
    });
    expect(redact('["AUTH", "s"]')).to.equal('["AUTH", "***"]');
  });

  it("masks registered secrets everywhere in text, and only inside strings in JSON", () => {
    addSecret("4815162342");
    addSecret('quo"ted-pw');
    const line = JSON.stringify({ n: 48151623421, s: "x4815162342y", q: 'quo"ted-pw' });
    expect(JSON.parse(redactJson(line))).to.deep.equal({ n: 48151623421, s: "x***y", q: "***" });
    expect(redact('pw 4815162342 and quo"ted-pw')).to.equal("pw *** and ***");
    // A newline, then text that reads as the secret with the escape's letter: not the secret.
    addSecret("nothing-here");
    const escaped = JSON.stringify({ m: "\nothing-here", n: "nothing-here" });
    expect(JSON.parse(redactJson(escaped))).to.deep.equal({ m: "\nothing-here", n: "***" });
  });

  it("drops the arguments of AUTH and HELLO commands from serialised errors, and masks password fields", () => {
    const scrubbed = scrubSecrets({ type: "ReplyError", command: { name: "HELLO", args: ["3", "AUTH", "u", "p"] }, options: { password: "x", port: 1 } });
    expect(scrubbed).to.deep.equal({ type: "ReplyError", command: { name: "HELLO" }, options: { password: "***", port: 1 } });
  });
});
