/**
 * `npm run soak [-- --minutes 10 --writers 64]`: the whole system (two replicas of each service,
 * the clocks worker) under a steady spend load of 64 writers for 10 minutes, with every replica's
 * resident memory, heap and event-loop lag sampled every 10 s from its /metrics. Passes when
 * nothing grows beyond the warm-up (the first two minutes) and nothing acknowledged is lost.
 */
import { parseArgs } from "node:util";
import { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import { setUp } from "./cast.ts";
import { ledgerInvariants } from "./invariants.ts";
import { SpendLoad } from "./load.ts";
import { startChaosSystem } from "./system.ts";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "10" },
    writers: { type: "string", default: "64" },
    every: { type: "string", default: "10" },
  },
});
const MINUTES = Number(values.minutes);
const EVERY_MS = Number(values.every) * 1000;
const WARM_UP_MS = Math.min(120_000, (MINUTES * 60_000) / 4);
const DAY = 86_400_000;

/** A value of a Prometheus text exposition (first series of `name`). */
function metric(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.split(" ").at(-1));
}

// A quiet clock: noon, far from any midnight, so the soak measures the process, not a reset.
const noon = (Math.floor(Date.now() / DAY) + 2) * DAY + DAY / 2;
const system = await startChaosSystem({ clockOffsetMs: noon - Date.now(), metrics: true });
const samples: { at: number; replica: string; rssMiB: number; heapMiB: number; lagP99Ms: number }[] = [];
let exitCode = 0;
try {
  const cast = await setUp(system, noon + DAY / 2);
  const load = new SpendLoad(system.client(BudgetService, system.balanced.budget, cast.adServer), cast.loadTargets, {
    writers: Number(values.writers),
    now: system.now,
    pauseMs: 0,
  });
  const started = Date.now();
  load.start();
  console.error(`soak: ${values.writers} writers for ${MINUTES} min, sampling every ${values.every} s`);
  while (Date.now() - started < MINUTES * 60_000) {
    await new Promise((r) => setTimeout(r, EVERY_MS));
    const at = Date.now() - started;
    for (const r of system.replicas) {
      const text = await fetch(r.metricsUrl!).then(
        (res) => res.text(),
        () => "",
      );
      samples.push({
        at,
        replica: r.name,
        rssMiB: metric(text, "process_resident_memory_bytes") / 2 ** 20,
        heapMiB: metric(text, "nodejs_heap_size_used_bytes") / 2 ** 20,
        lagP99Ms: metric(text, "nodejs_eventloop_lag_p99_seconds") * 1000,
      });
    }
    const now = samples.filter((s) => s.at === at);
    console.error(
      `  ${Math.round((Date.now() - started) / 1000)}s: ${load.records.length} events; ${now.map((s) => `${s.replica} ${s.rssMiB.toFixed(0)} MiB lag ${s.lagP99Ms.toFixed(1)} ms`).join(", ")}`,
    );
  }
  await load.stop();
  const seconds = (Date.now() - started) / 1000;
  const [ledger] = await ledgerInvariants(system.databases.budget.url, load.records, () => "UTC");
  console.log(
    `\nsoak: ${load.records.length} events in ${seconds.toFixed(0)} s (${Math.round(load.records.length / seconds)}/s), ${load.count("ok")} acknowledged, ${load.count("indeterminate")} indeterminate; ${ledger.ok ? "none lost" : `LEDGER: ${ledger.problems.slice(0, 5).join("; ")}`}`,
  );
  console.log(
    "\n| replica | RSS after warm-up MiB | RSS at the end MiB | growth | heap at the end MiB | event-loop lag p99 (max) ms |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const r of system.replicas) {
    const mine = samples.filter((s) => s.replica === r.name);
    const warm = mine.filter((s) => s.at >= WARM_UP_MS);
    const first = warm[0] ?? mine[0];
    const last = mine.at(-1)!;
    // Growth beyond warm-up: the end against the largest sample of the first minute after it.
    const base = Math.max(...warm.filter((s) => s.at < WARM_UP_MS + 60_000).map((s) => s.rssMiB), first.rssMiB);
    const growth = last.rssMiB / base - 1;
    if (growth > 0.25 || !ledger.ok) exitCode = 1;
    console.log(
      `| ${r.name} | ${base.toFixed(0)} | ${last.rssMiB.toFixed(0)} | ${(growth * 100).toFixed(1)}% | ${last.heapMiB.toFixed(0)} | ${Math.max(...mine.map((s) => s.lagP99Ms)).toFixed(1)} |`,
    );
  }
} finally {
  await system.stop();
}
process.exit(exitCode);
