// Sends N blur jobs, each piped into a report: node --import tsx examples/cpu-bound/enqueue.ts [N]
// REDIS_URL says where Redis is, as the worker's --broker does (a ?namespace= included).
import { connect, pipeline } from "../../lib/index.ts";
import { blur, report } from "./actors.ts";

const broker = await connect(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
const count = Number(process.argv[2] ?? 8);
for (let i = 0; i < count; i++) {
  await pipeline([blur.message(`photo-${i}.png`, 400, 300, 12), report.step("enqueue.ts")]).run();
}
console.log(`sent ${count} blur jobs`);
await broker.close();
