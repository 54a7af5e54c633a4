import { expect } from "chai";
import { Retry, TimeLimitExceeded } from "../../lib/index.ts";
import { deserializeError, serializeError } from "../../lib/threads/wire.ts";

class CardExpired extends Error {
  constructor(readonly card: string) {
    super(`Card ${card} expired`);
    this.name = "CardExpired";
  }
}

/** Round trip through structured cloning, as between threads. */
const cross = <T>(value: T): T => structuredClone(value);

describe("errors crossing threads", () => {
  it("keep dramats error classes, codes and fields", () => {
    const back = deserializeError(cross(serializeError(new Retry("later", 250))));
    expect(back).to.be.instanceOf(Retry);
    expect(back).to.include({ name: "Retry", message: "later", delay: 250, code: "DRAMATS_ERR_RETRY" });
    expect(deserializeError(cross(serializeError(new TimeLimitExceeded("slow"))))).to.be.instanceOf(TimeLimitExceeded);
  });

  it("find a user class among the candidates, else stay an Error with the same name and fields", () => {
    const data = cross(serializeError(new CardExpired("4242")));
    const typed = deserializeError(data, [CardExpired]);
    expect(typed).to.be.instanceOf(CardExpired);
    expect(typed).to.include({ card: "4242", message: "Card 4242 expired", name: "CardExpired" });
    const plain = deserializeError(data);
    expect(plain.constructor).to.equal(Error);
    expect(plain).to.include({ card: "4242", name: "CardExpired" });
    expect(plain.stack).to.include("CardExpired: Card 4242 expired");
  });

  it("keep built-in classes and causes, and describe thrown non-errors", () => {
    const error = new TypeError("outer", { cause: new RangeError("inner") });
    const back = deserializeError(cross(serializeError(error)));
    expect(back).to.be.instanceOf(TypeError);
    expect(back.cause).to.be.instanceOf(RangeError);
    expect(deserializeError(serializeError("just a string"))).to.include({ name: "Error", message: "just a string" });
  });

  it("drop fields that are not JSON-safe instead of failing", () => {
    const error = Object.assign(new Error("x"), { fn: () => 1, big: 10n, ok: [1, 2] });
    const data = cross(serializeError(error));
    expect(data.fields).to.deep.equal({ ok: [1, 2] });
  });
});
