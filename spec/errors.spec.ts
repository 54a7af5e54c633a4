import { expect } from "chai";
import { readFileSync } from "node:fs";
import { ConnectionClosed, DramatsError, ERROR_CLASSES } from "../lib/index.ts";
import { describeError } from "../lib/errors.ts";

describe("errors", () => {
  it("give every class a distinct stable code, documented in the README's table", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const codes = new Set<string>();
    for (const ErrorClass of ERROR_CLASSES) {
      const instance = Object.create(ErrorClass.prototype) as DramatsError;
      const code = Reflect.construct(ErrorClass, ["x", "y"]).code as string;
      expect(instance).to.be.instanceOf(DramatsError);
      expect(codes.has(code), `duplicate code ${code}`).to.equal(false);
      codes.add(code);
      expect(readme).to.contain(`| \`${ErrorClass.name}\` | \`${code}\` |`);
    }
  });

  it("name themselves after their class and keep the wrapped cause", () => {
    const cause = new Error("socket hang up");
    const error = new ConnectionClosed("lost", { cause });
    expect(error.name).to.equal("ConnectionClosed");
    expect(error.cause).to.equal(cause);
    expect(describeError(error)).to.equal("ConnectionClosed: lost");
  });
});
