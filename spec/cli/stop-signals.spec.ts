import { expect } from "chai";
import { STOP_SIGNAL_WINDOW_MS, StopSignals } from "../../lib/cli/stop-signals.ts";

describe("StopSignals", () => {
  function counting() {
    const seen: string[] = [];
    const signals = new StopSignals({ stop: (s) => seen.push(`stop ${s}`), force: (s) => seen.push(`force ${s}`) });
    return { seen, signals };
  }

  it("stops on the first signal, forces on the second, ignores the rest", () => {
    const { seen, signals } = counting();
    signals.receive("SIGTERM", 0);
    signals.receive("SIGINT", 1_000);
    signals.receive("SIGTERM", 2_000);
    expect(seen).to.deep.equal(["stop SIGTERM", "force SIGINT"]);
  });

  it(`counts signals less than ${STOP_SIGNAL_WINDOW_MS} ms apart as one`, () => {
    const { seen, signals } = counting();
    signals.receive("SIGTERM", 0);
    signals.receive("SIGTERM", STOP_SIGNAL_WINDOW_MS - 1);
    expect(seen).to.deep.equal(["stop SIGTERM"]);
    signals.receive("SIGTERM", 2 * STOP_SIGNAL_WINDOW_MS);
    expect(seen).to.deep.equal(["stop SIGTERM", "force SIGTERM"]);
  });

  it("handles the process's signals between listen and close", () => {
    const { seen, signals } = counting();
    const before = process.listenerCount("SIGUSR2");
    signals.listen("SIGUSR2");
    process.emit("SIGUSR2", "SIGUSR2");
    signals.close();
    expect(process.listenerCount("SIGUSR2")).to.equal(before);
    expect(seen).to.deep.equal(["stop SIGUSR2"]);
  });
});
