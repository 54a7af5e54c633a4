/** An error whose report is its message alone: a check's failure says what it saw, no harness stack. */
export function checkError(message: string): Error {
  const error = new Error(message);
  error.stack = `Error: ${message}`;
  return error;
}

/** Fails the check with `message` (without assert's true/false diff) unless `condition` holds. */
export function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw checkError(message);
}
