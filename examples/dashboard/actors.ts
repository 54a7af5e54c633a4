// The actors of the dashboard example, imported by both sides: the web app sends their messages
// and `dramats` workers run them. `connect()` picks the broker as the `dramats` command does:
// DRAMATS_BROKER (redis://..., amqp://..., sqlite://PATH), else the SQLite file ./dramats.sqlite.
import { actor, connect, getLogger } from "../../lib/index.ts";

export const broker = await connect();

const log = getLogger("example.emails");

/**
 * Sends the welcome mail of a new account (here: logs that it would). The address is personal
 * data: app.ts hides it from the dashboard with its `redact` hook, and this log line leaves it out.
 */
export const sendWelcome = actor(
  async function sendWelcome(email: string, name: string): Promise<void> {
    if (!email.includes("@")) throw new Error("not an email address");
    await new Promise((resolve) => setTimeout(resolve, 10)); // The mail server's round trip.
    log.info({ name }, "Welcome mail sent");
  },
  { queueName: "emails" },
);
