import { InvalidOptions, SkipMessage } from "./errors.ts";
import { toWireName } from "./middleware.ts";
import { showValue } from "./send-options.ts";

/**
 * Options a message carries come from whoever wrote it (a Python or raw producer included),
 * so the middleware that read them check them here: a value of the wrong type or range is
 * refused with InvalidOptions (the message is dead-lettered with it), and a limit the actor
 * declared cannot be raised by a message unless the actor lists it in `raisableLimits`. A
 * message may always lower a limit, and may set one the actor left to the middleware's default
 * (Dramatiq's rule: message options override).
 */
export interface LimitRule {
  /** Whole numbers only (a count). */
  readonly integer?: boolean;
  /** `null` is a value, meaning "no limit" (max_retries). */
  readonly nullable?: boolean;
  /** 0 means "no limit" (time_limit, max_age). */
  readonly zeroIsNone?: boolean;
  /** A value, not a limit: checked, never capped by the actor's (backoffs). */
  readonly uncapped?: boolean;
}

/** The actor's view these checks need (the actor may be missing: an unknown actor). */
type ActorLike = { options: object } | undefined;

/**
 * The limit `key` (camelCase, read from the message as snake_case) in force for this message:
 * the message's value, checked and capped by the actor's declared one, else the actor's, else
 * `fallback`.
 * @throws InvalidOptions when the message's value has the wrong type or range.
 */
export function messageLimit<T extends number | null | undefined>(
  message: { options: Record<string, unknown> },
  actor: ActorLike,
  key: string,
  fallback: T,
  rule: LimitRule,
): number | null | T {
  const options = actor?.options as { raisableLimits?: readonly string[] } & Record<string, unknown> | undefined;
  const declared = options?.[key] as number | null | undefined;
  const wire = toWireName(key);
  const value = message.options[wire];
  if (value === undefined) return declared !== undefined ? declared : fallback;
  if (!valid(value, rule)) {
    const kind = rule.integer ? "a non-negative integer" : "a non-negative number";
    throw new InvalidOptions(`Message option ${wire} must be ${kind}${rule.nullable ? " or null" : ""}, got ${showValue(value)}`);
  }
  if (declared === undefined || rule.uncapped || options?.raisableLimits?.includes(key)) return value as number | null;
  return rank(value as number | null, rule) > rank(declared, rule) ? declared : (value as number | null);
}

/**
 * The limits every chain knows by name, with their rules: what the middleware reading them
 * (Retries, TimeLimit, AgeLimit) accept from a message, and what an actor declaration or a send
 * may say (checked there for JavaScript callers, whose `timeLimit: "1s"` tsc would refuse).
 */
export const LIMIT_RULES: Readonly<Record<string, LimitRule>> = {
  maxRetries: { integer: true, nullable: true },
  minBackoff: { uncapped: true },
  maxBackoff: { uncapped: true },
  timeLimit: { zeroIsNone: true },
  maxAge: { zeroIsNone: true },
};

/**
 * @throws InvalidOptions "<subject>: `key` must be …, got …" when `value` breaks `key`'s rule
 * (undefined passes: the option is simply not given).
 */
export function checkLimitValue(subject: string, key: string, value: unknown): void {
  const rule = LIMIT_RULES[key];
  if (rule === undefined || value === undefined || valid(value, rule)) return;
  const kind = rule.integer ? "a non-negative integer" : "a non-negative number (ms)";
  throw new InvalidOptions(`${subject}: \`${key}\` must be ${kind}${rule.nullable ? " or null" : ""}, got ${showValue(value)}`);
}

function valid(value: unknown, rule: LimitRule): boolean {
  if (value === null) return rule.nullable === true;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) return false;
  return !rule.integer || Number.isInteger(value);
}

/** How loose a limit is: no limit is the loosest. */
function rank(value: number | null, rule: LimitRule): number {
  if (value === null || (rule.zeroIsNone && value === 0)) return Infinity;
  return value;
}

/**
 * The retry count a message carries (`retries`): a non-negative integer, else 0. A count a
 * producer set below 0 would otherwise buy its message runs past the actor's maxRetries.
 */
export function retryCount(options: { retries?: unknown }): number {
  const retries = options.retries;
  return typeof retries === "number" && retries > 0 && retries <= Number.MAX_SAFE_INTEGER ? Math.floor(retries) : 0;
}

/** Dead-letters a message whose options a before-hook refused, without running it. */
export function refuseMessage(proxy: { fail(reason: unknown): void }, error: InvalidOptions): never {
  proxy.fail(error);
  throw new SkipMessage(error.message);
}
