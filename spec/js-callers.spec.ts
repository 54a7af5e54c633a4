// JavaScript callers get, at run time, the errors TypeScript callers get from tsc: each wrong
// shape in spec/fixtures/js-callers.js (plain JavaScript) is refused with InvalidOptions naming
// what is wrong, and nothing is sent.
import { expect } from "chai";
import { StubBroker } from "../brokers/stub.ts";
import { InvalidOptions } from "../lib/index.ts";
// @ts-expect-error -- a plain JavaScript module, on purpose without types.
import { wrongShapes } from "./fixtures/js-callers.js";

describe("JavaScript callers", () => {
  const broker = new StubBroker();
  after(() => broker.close());

  const shapes = wrongShapes(broker) as Record<string, [() => unknown, string]>;
  for (const [name, [call, text]] of Object.entries(shapes)) {
    it(`refuses ${name}`, async () => {
      let error: unknown;
      try {
        await call();
      } catch (caught) {
        error = caught;
      }
      expect(error, name).to.be.instanceOf(InvalidOptions);
      expect((error as Error).message).to.include(text);
      expect((await broker.depths("default")).ready).to.equal(0);
    });
  }
});
