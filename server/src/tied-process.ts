import { type ChildProcess, spawn, spawnSync } from "node:child_process";

// Where the kernel can do it (Linux with util-linux's setpriv), the child gets a signal when
// this process dies, even by SIGKILL; setpriv execs the binary, so the pid is the child's own.
let setprivSupportsPdeathsig: boolean | undefined;

/** Spawns `binary` so that it is sent `deathSignal` when this process dies, however it dies. */
export function spawnTiedToParent(
  binary: string,
  args: readonly string[],
  deathSignal: "SIGTERM" | "SIGKILL" = "SIGTERM",
): ChildProcess {
  setprivSupportsPdeathsig ??=
    process.platform === "linux" &&
    spawnSync("setpriv", ["--help"], { encoding: "utf8" }).stdout?.includes("--pdeathsig") === true;
  const stdio: ["ignore", "pipe", "pipe"] = ["ignore", "pipe", "pipe"];
  return setprivSupportsPdeathsig
    ? spawn("setpriv", ["--pdeathsig", deathSignal.slice(3), "--", binary, ...args], { stdio })
    : spawn(binary, [...args], { stdio });
}
