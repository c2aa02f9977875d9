import { defineConfig } from "vitest/config";

export const config = defineConfig({
  test: {
    include: ["server/src/**/*.test.ts", "sdk/src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
  },
});

// Vitest loads its configuration from the module's default export.
// biome-ignore lint/style/noDefaultExport: required by the tool
export default config;
