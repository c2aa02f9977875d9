/**
 * A process that keeps a share of one core busy and does nothing else. Beside the no-op gRPC
 * server of the create figures it takes the CPU that Chime took, which shows what that CPU alone
 * costs the client. Run as a child process by test/bench/scenarios.ts: each message it is sent
 * is the share of a core to take from then on (0 to rest).
 */

const TICK_MS = 5;
/** The most one tick spins, so that a late tick does not turn into a long stall. */
const MAX_SPIN_MS = 20;

let share = 0;
let since = performance.now();
let cpuAtSince = 0;

const cpuMs = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

process.on("message", (m) => {
  share = Math.min(1, Math.max(0, Number(m)));
  since = performance.now();
  cpuAtSince = cpuMs();
});
// Spins until the CPU taken since the share was set catches up with the share of the time
// passed: timers fire late on a loaded machine, and a fixed spin per tick falls short.
setInterval(() => {
  if (share === 0) return;
  const stopAt = performance.now() + MAX_SPIN_MS;
  while (performance.now() < stopAt && cpuMs() - cpuAtSince < (performance.now() - since) * share);
}, TICK_MS);
process.on("disconnect", () => process.exit(0));
