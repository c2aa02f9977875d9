/**
 * Chime's benchmark suite. Each scenario starts its own nats-server -js (file storage) and its
 * own Chime child process(es), prints one JSON line per figure
 * ({bench, metric, value, unit, ceiling?, ratio?}) and cleans up.
 *
 *   npm run bench -- [--quick] [--only ceiling,burst,steady,create,capacity,replicas]
 *
 * --quick runs everything small (under a minute) to check that the suite works; it exits 0
 * when every scenario ran, whatever the figures. See docs/benchmarks.md.
 */

import { parseArgs } from "node:util";
import { burst, capacity, ceiling, create, replicas, type Sizes, steady } from "./scenarios.js";

const scenarios: Record<string, (sizes: Sizes) => Promise<void>> = {
  ceiling,
  burst,
  steady,
  create,
  capacity,
  replicas,
};

const { values } = parseArgs({
  options: { quick: { type: "boolean", default: false }, only: { type: "string" } },
});
const names = values.only?.split(",").map((s) => s.trim()) ?? Object.keys(scenarios);
const unknown = names.filter((name) => !(name in scenarios));
if (unknown.length > 0) {
  console.error(
    `unknown scenario(s): ${unknown.join(", ")}; known: ${Object.keys(scenarios).join(", ")}`,
  );
  process.exit(2);
}

const started = performance.now();
const failed: string[] = [];
for (const name of names) {
  const t0 = performance.now();
  try {
    await (scenarios[name] as (sizes: Sizes) => Promise<void>)({ quick: values.quick });
    console.error(`# ${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } catch (err) {
    failed.push(name);
    console.error(`# ${name} FAILED:`, err);
  }
}
console.error(
  `# ${names.length - failed.length}/${names.length} scenarios ran in ${((performance.now() - started) / 1000).toFixed(1)} s${failed.length > 0 ? `; failed: ${failed.join(", ")}` : ""}`,
);
process.exit(failed.length > 0 ? 1 : 0);
