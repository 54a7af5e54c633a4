import { expect } from "chai";
import { DecodeError, EncodeError, JsonEncoder, Message, MessageTooLarge } from "../lib/index.ts";

describe("Message and JsonEncoder", () => {
  const encoder = new JsonEncoder();

  it("encodes Dramatiq's wire format: compact JSON with the fields in Dramatiq's order", () => {
    const message = new Message({
      queueName: "emails",
      actorName: "send_welcome",
      args: [42],
      kwargs: { locale: "en" },
      options: { max_retries: 5 },
      messageId: "9d1c4e7a-3b2f-4f0e-8c6d-5a7b9e1f2d30",
      messageTimestamp: 1767225000000,
    });
    expect(encoder.encode(message.asData())).to.equal(
      '{"queue_name":"emails","actor_name":"send_welcome","args":[42],"kwargs":{"locale":"en"},' +
        '"options":{"max_retries":5},"message_id":"9d1c4e7a-3b2f-4f0e-8c6d-5a7b9e1f2d30","message_timestamp":1767225000000}',
    );
  });

  it("round-trips a message", () => {
    const message = new Message({ queueName: "q", actorName: "a", args: [1, "x", { y: [true, null] }] });
    const back = Message.fromData(encoder.decode(encoder.encode(message.asData())));
    expect(back.asData()).to.deep.equal(message.asData());
  });

  it("gives every message a uuid4 id and an epoch-ms timestamp", () => {
    const before = Date.now();
    const message = new Message({ queueName: "q", actorName: "a", args: [] });
    expect(message.messageId).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(message.messageTimestamp).to.be.within(before, Date.now());
  });

  it("keeps id and timestamp in copies and merges options", () => {
    const message = new Message({ queueName: "q", actorName: "a", args: [], options: { a: 1, b: 2 } });
    const copy = message.copy({ options: { b: 3 } });
    expect(copy.messageId).to.equal(message.messageId);
    expect(copy.messageTimestamp).to.equal(message.messageTimestamp);
    expect(copy.options).to.deep.equal({ a: 1, b: 3 });
  });

  it("refuses values JSON cannot carry, naming where they are", () => {
    const bad = (args: unknown[]) => () => encoder.encode(new Message({ queueName: "q", actorName: "a", args }).asData());
    expect(bad([() => 1])).to.throw(EncodeError, "args[0] is a function");
    expect(bad([{ when: new Date() }])).to.throw(EncodeError, "args[0].when is a Date");
    expect(bad([10n])).to.throw(EncodeError, "bigint");
    expect(bad([NaN])).to.throw(EncodeError, "NaN");
    expect(bad([1, "x", { a: [true, null, { b: Infinity }] }])).to.throw(EncodeError, "args[2].a[2].b is Infinity");
    expect(bad([[1, [2, [3, new Map()]]]])).to.throw(EncodeError, "args[0][1][1][1] is a Map");
    expect(bad([{ ok: 1, skipped: undefined, f: Symbol("s") }])).to.throw(EncodeError, "args[0].f is a symbol");
    expect(bad([1, undefined])).to.throw(EncodeError, "args[1] is undefined, which cannot be sent as JSON");
  });

  it("names a cycle by the two paths that reach the same object, and cuts a deep path short", () => {
    const bad = (args: unknown[]) => () => encoder.encode(new Message({ queueName: "q", actorName: "a", args }).asData());
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(bad([cyclic])).to.throw(EncodeError, "args[0].self is args[0] again: the value is cyclic");
    const inner: Record<string, unknown> = { list: [] };
    (inner.list as unknown[]).push({ back: inner });
    expect(bad([{ a: { inner } }])).to.throw(EncodeError, "args[0].a.inner.list[0].back is args[0].a.inner again");
    const deep: Record<string, unknown> = {};
    let node = deep;
    for (let i = 0; i < 500; i++) node = node.n = {};
    let message = "";
    try {
      bad([deep])();
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).to.equal("args[0].n.n.n.…122 more….n.n is nested deeper than 128 levels");
  });

  it("throws DecodeError for bytes that are not a message, keeping the raw data", () => {
    const error = (() => {
      try {
        encoder.decode("{not json");
      } catch (e) {
        return e;
      }
    })();
    expect(error).to.be.instanceOf(DecodeError);
    expect((error as DecodeError).data).to.equal("{not json");
    expect((error as DecodeError).code).to.equal("DRAMATS_ERR_DECODE");
    expect(() => encoder.decode("[]")).to.throw(DecodeError, "not a JSON object");
    expect(() => encoder.decode('{"queue_name":"q"}')).to.throw(DecodeError, "actor_name");
    expect(() =>
      encoder.decode('{"queue_name":"q","actor_name":"a","args":{},"kwargs":{},"options":{},"message_id":"x","message_timestamp":1}'),
    ).to.throw(DecodeError, "args must be an array");
  });

  it("accepts messages from producers that omit kwargs and options", () => {
    const data = encoder.decode('{"queue_name":"q","actor_name":"a","args":[],"message_id":"x","message_timestamp":1}');
    expect(data.kwargs).to.deep.equal({});
    expect(data.options).to.deep.equal({});
  });

  it("enforces the size limit on both encode and decode", () => {
    const small = new JsonEncoder({ maxSize: 200 });
    const big = new Message({ queueName: "q", actorName: "a", args: ["x".repeat(300)] });
    expect(() => small.encode(big.asData())).to.throw(MessageTooLarge, "exceeds the limit of 200 bytes");
    const text = encoder.encode(big.asData());
    expect(() => small.decode(text)).to.throw(MessageTooLarge);
    expect(() => new JsonEncoder({ maxSize: 0 })).to.throw(RangeError, "maxSize");
  });
});
