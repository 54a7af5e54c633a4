import { expect } from "chai";
import { cliSpec, FAST, runs, until } from "./run-cli.ts";

const APP = "spec/fixtures/cli-hook-block-app.ts";

/**
 * A message that blocks the event loop anywhere in its processing, not only in its actor, is
 * named after the kill that follows the first (which turns recording on) and dead-lettered with
 * the reason when it comes back; the other messages run.
 */
describe("dramats block watch: a message blocking in a middleware hook", function () {
  this.timeout(40_000);
  const spec = cliSpec();

  for (const hook of ["before", "before-async", "after", "before-ack"]) {
    it(`names and dead-letters a message that blocks in the ${hook} hook`, async () => {
      const messageId = `0b5e55ed-0000-4000-8000-${hook.padStart(12, "0").slice(-12)}`;
      const cli = spec.start([APP, "--processes", "1", "--queues", "cli-hook-block", ...FAST], {
        env: { CLI_SPEC_OUT: spec.out, CLI_SPEC_HOOK: hook, CLI_SPEC_HOOK_ID: messageId, CLI_SPEC_SEND: "5" },
      });
      const noted = await cli.waitFor("Message blocked the event loop; it will be dead-lettered when redelivered", 30_000);
      expect(noted.messageId).to.equal(messageId);
      const dead = await cli.waitFor((l) => l.msg === "Message dead-lettered" && l.messageId === messageId, 15_000);
      expect(dead.reason).to.match(/^EventLoopBlocked: Message .* blocked the event loop of a worker process/);
      // The third process (the first two were killed) runs every good message.
      const good = () => {
        const last = runs(spec.out).at(-1)!.pid;
        return runs(spec.out, "note").filter((r) => r.pid === last && r.tag !== "blocker").map((r) => r.tag).sort();
      };
      await until(() => good().length === 5);
      expect(good()).to.deep.equal(["n0", "n1", "n2", "n3", "n4"]);
      expect(await cli.stop()).to.equal(0);
    });
  }
});
