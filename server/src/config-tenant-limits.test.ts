import { describe, expect, it } from "vitest";
import { ConfigError, resolveConfig } from "./config.js";

const resolve = (raw: Parameters<typeof resolveConfig>[0]) => resolveConfig(raw, false);

describe("tenant limits settings", () => {
  it("defaults to a million schedules per namespace and 1000 calls/s, bursts of 2000", () => {
    expect(resolve({}).tenantLimits).toEqual({
      maxSchedulesPerNamespace: 1_000_000,
      rpcRatePerToken: { perSecond: 1000, burst: 2000 },
    });
  });

  it("turns either limit off with 0, and takes a rate below one per second", () => {
    const off = resolve({ maxSchedulesPerNamespace: "0", rpcRatePerToken: "0" }).tenantLimits;
    expect(off).toEqual({ maxSchedulesPerNamespace: 0, rpcRatePerToken: null });
    const slow = resolve({ rpcRatePerToken: "0.5", rpcBurstPerToken: "1" }).tenantLimits;
    expect(slow.rpcRatePerToken).toEqual({ perSecond: 0.5, burst: 1 });
  });

  it("refuses values it cannot use, naming the flag", () => {
    for (const [raw, flag] of [
      [{ maxSchedulesPerNamespace: "-1" }, "--max-schedules-per-namespace"],
      [{ maxSchedulesPerNamespace: "many" }, "--max-schedules-per-namespace"],
      [{ rpcRatePerToken: "1e3" }, "--rpc-rate-per-token"],
      [{ rpcRatePerToken: "-5" }, "--rpc-rate-per-token"],
      [{ rpcBurstPerToken: "0" }, "--rpc-burst-per-token"],
      [{ rpcBurstPerToken: "2.5" }, "--rpc-burst-per-token"],
    ] as const) {
      expect(() => resolve(raw)).toThrow(ConfigError);
      expect(() => resolve(raw)).toThrow(flag);
    }
  });
});
