// Which first words name an operator command. Apart from the commands themselves, so that the
// `dramats` entry point can tell without loading them (worker processes never do).

/** The first words that name an operator command rather than a module to run. */
export const OPERATOR_COMMANDS: ReadonlySet<string> = new Set(["queues", "dead-letters", "requeue", "purge", "schedules", "cancel", "workers", "health", "dashboard", "migrate"]);

/** True when `dramats <word> ...` is an operator command (a module named so is given as `./queues`). */
export function isOperatorCommand(word: string | undefined): boolean {
  return word !== undefined && OPERATOR_COMMANDS.has(word);
}

/**
 * `dramats help` and `dramats help COMMAND` as commander understands them (`--help`,
 * `COMMAND --help`): without this, `help` would be taken for a module to import.
 */
export function helpArguments(args: readonly string[]): string[] {
  if (args[0] !== "help") return [...args];
  return isOperatorCommand(args[1]) ? [args[1]!, "--help"] : ["--help"];
}
