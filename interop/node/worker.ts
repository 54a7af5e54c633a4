// The module `npm run interop:python` starts with the real `dramats` command:
//   dramats interop/node/worker.ts --broker URL
// It connects as an app does (connect() reads DRAMATS_BROKER, which the harness sets to the same
// URL as --broker, so the command keeps this broker and its middleware) and declares the actors.
import { connect } from "../../lib/index.ts";
import { declareInteropActors, interopEnv, interopMiddleware } from "./app.ts";

const env = interopEnv();
const broker = await connect(undefined, { middleware: interopMiddleware(env) });
export const { actors } = declareInteropActors(broker, env);
