// The producing side of a direction: the same few operations, done by Python Dramatiq (through
// driver.py) or by dramats (in this process), so each case is written once for both directions.
import { group, Message, pipeline, type Broker, type MessageData } from "../../lib/index.ts";
import type { declareInteropActors } from "../node/app.ts";
import type { PythonDriver } from "./processes.ts";

export type ActorName = "interop_record" | "interop_fail" | "interop_add" | "interop_finish" | "interop_fleet";

export interface Step {
  actor: ActorName;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  priority?: number;
}

export interface Sent {
  messageId: string;
  /** Dramatiq's message dict, as sent. */
  data: Record<string, unknown>;
}

export interface Sender {
  readonly side: "python" | "node";
  send(step: Step & { delay?: number }): Promise<Sent>;
  sendMany(tags: string[], pauseMs: number): Promise<void>;
  pipeline(steps: Step[]): Promise<void>;
  chord(members: Step[], callback: Step): Promise<void>;
  /** The sender's blocking result read of `sent`, as its users would call it. */
  result(sent: Sent, timeout: number): Promise<unknown>;
}

export function pythonSender(driver: PythonDriver): Sender {
  const step = (s: Step) => ({ actor: s.actor, args: s.args ?? [], kwargs: s.kwargs ?? {}, options: s.priority === undefined ? {} : { priority: s.priority } });
  return {
    side: "python",
    async send(s) {
      const data = await driver.call<Record<string, unknown>>("send", { ...step(s), delay: s.delay ?? null });
      return { messageId: data.message_id as string, data };
    },
    async sendMany(tags, pauseMs) {
      await driver.call("send_many", { actor: "interop_fleet", tags, pause_ms: pauseMs }, 60_000);
    },
    async pipeline(steps) {
      await driver.call("pipeline", { steps: steps.map(step) });
    },
    async chord(members, callback) {
      await driver.call("chord", { members: members.map(step), callback: step(callback) });
    },
    async result(sent, timeout) {
      const answer = await driver.call<{ value: unknown }>("result", { message: sent.data, timeout }, timeout + 10_000);
      return answer.value;
    },
  };
}

type NodeActors = ReturnType<typeof declareInteropActors>["actors"];

export function nodeSender(broker: Broker, actors: NodeActors): Sender {
  const byName: Record<ActorName, NodeActors[keyof NodeActors]> = {
    interop_record: actors.interopRecord,
    interop_fail: actors.interopFail,
    interop_add: actors.interopAdd,
    interop_finish: actors.interopFinish,
    interop_fleet: actors.interopFleet,
  };
  // The actors' argument types differ; the cases pass each the arguments its Python twin takes.
  const message = (s: Step) =>
    (byName[s.actor] as NodeActors["interopRecord"]).messageWithOptions({
      args: (s.args ?? []) as [string],
      kwargs: s.kwargs ?? {},
      ...(s.priority === undefined ? {} : { priority: s.priority }),
    });
  return {
    side: "node",
    async send(s) {
      const sent = await (byName[s.actor] as NodeActors["interopRecord"]).sendWithOptions({
        args: (s.args ?? []) as [string],
        kwargs: s.kwargs ?? {},
        ...(s.delay === undefined ? {} : { delay: s.delay }),
        ...(s.priority === undefined ? {} : { priority: s.priority }),
      });
      return { messageId: sent.messageId, data: sent.asData() as unknown as Record<string, unknown> };
    },
    async sendMany(tags, pauseMs) {
      // In windows, as an app sending a batch would, so the two sides' sends interleave.
      for (let i = 0; i < tags.length; i += 100) {
        await Promise.all(tags.slice(i, i + 100).map((tag) => actors.interopFleet.send(tag, pauseMs)));
      }
    },
    async pipeline(steps) {
      await pipeline(steps.map(message), { broker }).run();
    },
    async chord(members, callback) {
      await group(members.map(message), { broker }).addCompletionCallback(message(callback)).run();
    },
    async result(sent, timeout) {
      return Message.fromData(sent.data as unknown as MessageData).result({ timeout, broker });
    },
  };
}
