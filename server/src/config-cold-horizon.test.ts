import { describe, expect, it } from "vitest";
import { ConfigError, resolveConfig } from "./config.js";

const resolve = (raw: Parameters<typeof resolveConfig>[0]) => resolveConfig(raw, false);

describe("--cold-horizon", () => {
  it("defaults to ten minutes and takes any duration of a second or more", () => {
    expect(resolve({}).coldHorizonMs).toBe(600_000);
    expect(resolve({ coldHorizon: "1s" }).coldHorizonMs).toBe(1_000);
    expect(resolve({ coldHorizon: "1h" }).coldHorizonMs).toBe(3_600_000);
  });

  it("refuses what is not a duration, or under a second, naming the flag and the rule", () => {
    expect(() => resolve({ coldHorizon: "soon" })).toThrow(
      new ConfigError(
        '--cold-horizon: must be a duration such as 250ms, 5s, 10m, 1h30m or 7d, not "soon"',
      ),
    );
    expect(() => resolve({ coldHorizon: "999ms" })).toThrow(
      new ConfigError("--cold-horizon: must be at least 1s"),
    );
  });
});
