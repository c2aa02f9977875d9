// A quick look at the two figures a user feels first: how long a create takes over gRPC, and
// how late a fire reaches a JetStream consumer. Chime runs as its own process, as in production.
// Run: npx tsx test/bench/quick.ts [--schedules 200] [--seconds 10]
import { parseArgs } from "node:util";
import { startChimeProcess } from "../harness/chime.js";
import { createGrpcJsClient } from "../harness/grpc-js-client.js";
import { startTestNats } from "../harness/nats-server.js";
import { recordTasks } from "../harness/task-recorder.js";
import { BENCH_CHIME } from "./lib.js";

const { values } = parseArgs({
  options: {
    schedules: { type: "string", default: "200" },
    seconds: { type: "string", default: "10" },
  },
});
const schedules = Number(values.schedules);
const seconds = Number(values.seconds);

function percentiles(samples: number[]): { p50: number; p99: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number =>
    Number((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0).toFixed(2));
  return { p50: at(0.5), p99: at(0.99), max: at(1) };
}

const nats = await startTestNats();
const chime = await startChimeProcess(nats.url, BENCH_CHIME);
const grpc = createGrpcJsClient(`127.0.0.1:${chime.port}`);
try {
  const inAnHour = { seconds: String(Math.floor(Date.now() / 1000) + 3600), nanos: 0 };
  const createMs: number[] = [];
  for (let i = 0; i < 500; i++) {
    const started = performance.now();
    await grpc.unary("ScheduleByTime", { subject: "tasks.bench.create", at: inAnHour });
    createMs.push(performance.now() - started);
  }
  console.log(
    JSON.stringify({
      bench: "create",
      metric: "ScheduleByTime latency, one call at a time, gRPC",
      unit: "ms",
      ...percentiles(createMs),
    }),
  );

  const recorder = await recordTasks(nats.url, "CHIME_TASKS", "tasks.bench.fire.>");
  for (let i = 0; i < schedules; i++) {
    await grpc.unary("ScheduleByInterval", {
      subject: `tasks.bench.fire.${i}`,
      every: { seconds: "1", nanos: 0 },
    });
  }
  const from = Date.now() + 1500;
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000 + 1500));
  const lateness = recorder.tasks
    .filter((t) => Date.parse(t.headers["Chime-Scheduled-At"] ?? "") >= from)
    .map((t) => t.receivedAt - Date.parse(t.headers["Chime-Scheduled-At"] ?? ""));
  console.log(
    JSON.stringify({
      bench: "lateness",
      metric: `receipt − Chime-Scheduled-At at a JetStream consumer, ${schedules} intervals of 1 s for ${seconds} s`,
      unit: "ms",
      fires: lateness.length,
      ...percentiles(lateness),
    }),
  );
  await recorder.stop();
} finally {
  grpc.close();
  await chime.stop();
  await nats.stop();
}
