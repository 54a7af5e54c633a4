import { expect } from "chai";
import { RedisLayout } from "../../brokers/redis/layout.ts";
import { encodePayload, storedPayload } from "../../brokers/redis/payload.ts";
import { JsonEncoder, Message, type Encoder, type MessageData } from "../../lib/index.ts";

describe("Redis stored payloads", () => {
  const encoder = new JsonEncoder();
  const rid = "0b6e1a7c-2f7e-4c7a-9d0c-3d2b8f9e4a11";
  const stored = (message: Message, enc: Encoder = encoder) => storedPayload(enc, message, enc.encode(message.asData()), rid);

  it("are byte for byte what encoding the message with its redis_message_id gives", () => {
    const next = new Message({ queueName: "q", actorName: "next", args: [1], options: { retries: 2 } }).asData();
    const messages = [
      new Message({ queueName: "q", actorName: "a", args: [1] }),
      new Message({ queueName: "q", actorName: "a", args: ["},\"message_id\":\"x", { deep: [null, true, 1.5] }], kwargs: { k: "é ☃" } }),
      new Message({ queueName: "q", actorName: "a", args: [], options: { max_retries: 3, priority: -2, on_success: "done" } }),
      // A pipeline step: a nested message, with its own message_id, inside the options.
      new Message({ queueName: "q", actorName: "a", args: [], options: { pipe_target: next, pipe_ignore: false } }),
    ];
    for (const message of messages) {
      const payload = stored(message);
      expect(payload).to.equal(encodePayload(encoder, message, rid));
      const data = JSON.parse(payload) as MessageData;
      expect(data.options.redis_message_id).to.equal(rid);
      expect(data.message_id).to.equal(message.messageId);
    }
  });

  it("are encoded again when splicing could differ: an id already set, a .DQ name, another encoder", () => {
    const redelivered = new Message({ queueName: "q", actorName: "a", args: [], options: { redis_message_id: "old", x: 1 } });
    expect(JSON.parse(stored(redelivered)).options).to.deep.equal({ redis_message_id: rid, x: 1 });
    const fromPython = new Message({ queueName: "q.DQ", actorName: "a", args: [] });
    expect(JSON.parse(stored(fromPython)).queue_name).to.equal("q");
    const custom: Encoder = {
      encode: (data) => `custom:${JSON.stringify(data)}`,
      decode: (raw) => JSON.parse(String(raw).slice(7)) as MessageData,
    };
    const plain = new Message({ queueName: "q", actorName: "a", args: [] });
    expect(stored(plain, custom)).to.equal(encodePayload(custom, plain, rid));
  });

  it("for a delay, are byte for byte Dramatiq's delay-queue payload (queue_name q.DQ, eta the last option), spliced or encoded", () => {
    const layout = new RedisLayout("dramatiq", "dramatiq", encoder);
    const eta = 1_765_000_000_123;
    const next = new Message({ queueName: "q", actorName: "next", args: [1], options: { retries: 2 } }).asData();
    const messages = [
      new Message({ queueName: "q", actorName: "a", args: [1] }),
      new Message({ queueName: "q", actorName: "a", args: ["},\"message_id\":\"x", { eta: 1 }], kwargs: { k: "é ☃" } }),
      new Message({ queueName: "q", actorName: "a", args: [], options: { max_retries: 3, priority: -2, on_success: "done" } }),
      new Message({ queueName: "q", actorName: "a", args: [], options: { pipe_target: next, pipe_ignore: false } }),
      // Encoded again: an id already set, an old eta.
      new Message({ queueName: "q", actorName: "a", args: [], options: { redis_message_id: "old", x: 1 } }),
      new Message({ queueName: "q", actorName: "a", args: [], options: { eta: 5, x: 1 } }),
    ];
    for (const message of messages) {
      const { eta: _eta, ...options } = message.options;
      const expected = encoder.encode({ ...message.asData(), queue_name: "q.DQ", options: { ...options, redis_message_id: rid, eta } });
      for (const body of [encoder.encode(message.asData()), undefined]) {
        const [id, head, priority, delay, dq, tail] = layout.entry(message, body, rid, 5, 1_000);
        expect([id, priority, delay, dq]).to.deep.equal([rid, 0, 1_000, "2"]);
        expect(head + String(eta) + tail).to.equal(expected);
      }
    }
  });
});
