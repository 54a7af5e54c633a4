// Compile-only: result types flow through pipelines and messages.
import { actor, pipeline } from "../../lib/index.ts";
import { StubBroker } from "../../brokers/stub.ts";

const broker = new StubBroker();
const fetchPage = actor(async function typesFetch(url: string) { return `<html>${url}</html>`; }, { broker });
const measure = actor(function typesMeasure(html: string) { return html.length; }, { broker });

export async function checks(): Promise<void> {
  const length: number = await pipeline([fetchPage.message("x"), measure.step()]).result();
  void length;
  // @ts-expect-error the pipeline's result is the last step's (a number)
  const wrong: string = await pipeline([fetchPage.message("x"), measure.step()]).result();
  void wrong;
  const html: string = await (await fetchPage.send("y")).result();
  void html;
  // @ts-expect-error a message's result has its actor's (awaited) return type
  const notNumber: number = await (await fetchPage.send("y")).result();
  void notNumber;
  // @ts-expect-error step() leaves out only the last argument
  measure.step("too many");
  // @ts-expect-error run() takes only a delay
  await pipeline([fetchPage.message("x")]).run({ dealy: 5 });
}
