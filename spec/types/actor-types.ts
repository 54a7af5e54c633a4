// Compile-only checks (tsc runs over spec/ in `npm test`): each @ts-expect-error line must
// fail to compile, or tsc reports the directive as unused.
import { actor, actorOf, type ActorContext, type Message } from "../../lib/index.ts";
import { StubBroker } from "../../brokers/stub.ts";

const broker = new StubBroker();

const add = actor(async function add(a: number, b: number) {
  return a + b;
}, { broker, queueName: "math", maxRetries: 3, timeLimit: 1_000 });

export async function checks(): Promise<void> {
  const sent: Message<[number, number]> = await add.send(1, 2);
  void sent;
  // @ts-expect-error a string where a number is expected
  await add.send("1", 2);
  // @ts-expect-error too few arguments
  await add.send(1);
  // @ts-expect-error too many arguments
  await add.send(1, 2, 3);
  await add.sendWithOptions({ args: [1, 2], delay: 100, priority: 1, maxRetries: 0 });
  // @ts-expect-error args are checked in sendWithOptions too
  await add.sendWithOptions({ args: [1, "2"] });
  // @ts-expect-error unknown per-message option
  await add.sendWithOptions({ args: [1, 2], maxRetrys: 1 });
  // @ts-expect-error a misspelt delay (sendWithOptions also rejects it at run time)
  await add.sendWithOptions({ args: [1, 2], dealy: 500 });
  // @ts-expect-error delay is a number of ms
  await add.sendWithOptions({ args: [1, 2], delay: "soon" });
  // @ts-expect-error priority is a number
  await add.sendWithOptions({ args: [1, 2], priority: "high" });
  // @ts-expect-error args is the argument list
  await add.sendWithOptions({ args: 5 });
  // @ts-expect-error messageWithOptions takes the same options
  add.messageWithOptions({ args: [1, 2], dealy: 500 });
  add.message(1, 2);
  // @ts-expect-error message() is checked too
  add.message(true, 2);

  // A direct call keeps the function's return type.
  const direct: Promise<number> = add(1, 2);
  void direct;

  // Optional parameters stay optional.
  const greet = actor(function greet(name: string, punctuation?: string) {
    return `hi ${name}${punctuation ?? ""}`;
  }, { broker });
  await greet.send("ada");
  await greet.send("ada", "!");
  // @ts-expect-error optional parameter still typed
  await greet.send("ada", 1);

  // Actor functions may use `this` for their abort signal.
  const polite = actor(async function polite(this: ActorContext, ms: number) {
    await new Promise((r) => setTimeout(r, ms));
    return this.signal.aborted;
  }, { broker });
  await polite.send(5);

  // @ts-expect-error unknown actor option
  actor(function typo() {}, { broker, maxRetrys: 1 });
  // @ts-expect-error wrong option type
  actor(function badType() {}, { broker, timeLimit: "1s" });
}

export class Reports {
  @actor({ broker, queueName: "reports" })
  static async generate(id: number): Promise<string> {
    return `report ${id}`;
  }
}

export async function decorated(): Promise<void> {
  await actorOf(Reports.generate).send(42);
  // @ts-expect-error decorated actors are typed through actorOf
  await actorOf(Reports.generate).send("42");
}
