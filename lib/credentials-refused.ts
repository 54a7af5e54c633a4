/**
 * Recognises a broker's refusal of the credentials (a wrong password, a missing one, a user
 * without access to the vhost) in a driver's error or anywhere in its cause chain. The CLI
 * treats such a broker as unreachable (exit code 3): nothing dramats can do will reach it
 * until someone fixes the URL or the broker's users.
 */

/** Texts the drivers use; compared with `includes`, never a regular expression (the text is a broker's reply). */
const REFUSALS = [
  // Redis (AUTH, or HELLO 3 AUTH): a wrong password or user; a password the server does not expect; none given.
  "WRONGPASS",
  "NOAUTH",
  "invalid password",
  "invalid username-password pair",
  "without any password configured",
  "but no password is set",
  // amqplib: the server closed the handshake (403 ACCESS_REFUSED for the login, 530 NOT_ALLOWED for the vhost).
  "Handshake terminated by server",
];

/** True when `error` (or one of its causes) says the broker refused the credentials. */
export function isCredentialsRefused(error: unknown): boolean {
  let current = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const message = current.message;
    if (REFUSALS.some((text) => message.includes(text))) return true;
    current = current.cause;
  }
  return false;
}
