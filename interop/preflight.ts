// Runs before the checks of `npm run interop:python`: exits 2 with a clear message when
// DRAMATIQ_SRC is unset or wrong, or Debian's python3 lacks redis or pika.
import { checkPython } from "./harness/env.ts";

try {
  const found = checkPython();
  process.stdout.write(`interop:python: Python Dramatiq ${found}\n`);
} catch (error) {
  process.stderr.write(`interop:python: ${(error as Error).message}\n`);
  process.exit(2);
}
