import { configDefaults, defineConfig } from "vitest/config";

// Several replicas, killed processes and NATS outages: these tests time hand-overs and leases,
// so each runs with the machine to itself.
const machineWideTests = ["test/replicas/**/*.test.ts", "test/faults/**/*.test.ts"];

export const config = defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
    projects: [
      {
        extends: true,
        test: {
          name: "shared",
          include: ["server/src/**/*.test.ts", "sdk/src/**/*.test.ts", "test/**/*.test.ts"],
          exclude: [...configDefaults.exclude, ...machineWideTests],
          // Most of these wait on a fire or a server, not the CPU: two at a time on two cores.
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: "alone",
          include: machineWideTests,
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});

// Vitest loads its configuration from the module's default export.
// biome-ignore lint/style/noDefaultExport: required by the tool
export default config;
