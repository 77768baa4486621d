/**
 * `npm run chaos [-- --model-minutes 30]`: the full fault schedule (two SIGKILLs of budget
 * replicas under load, a campaign replica killed right after a crossing spend, the clocks worker
 * killed with a boundary due, PostgreSQL cut and slowed, NATS and Temporal down for 10 s each)
 * on the built system, then every invariant with its figures; then the model-based race test for
 * half an hour (model-soak.ts; `--model-minutes 0` skips it). Exit 1 when anything does not hold.
 * `--topology production`: the faults of the production topology instead (production.ts).
 */
import { parseArgs } from "node:util";
import { runModelSoak } from "./model-soak.ts";
import { runProductionChaos } from "./production.ts";
import { formatReport } from "./report.ts";
import { FULL, runChaos } from "./run.ts";

const { values } = parseArgs({
  options: {
    "model-minutes": { type: "string", default: "30" },
    "no-faults": { type: "boolean", default: false },
    topology: { type: "string", default: "development" },
  },
});
if (values.topology === "production") {
  // The production topology's faults (production.ts), then their invariants and recovery times.
  const { report, recoveries } = await runProductionChaos();
  console.log(formatReport(report));
  console.log("\n| fault | recovered after | measured as |\n| --- | ---: | --- |");
  for (const r of recoveries) console.log(`| ${r.fault} | ${(r.recoveredMs / 1000).toFixed(1)} s | ${r.what} |`);
  process.exit(report.ok ? 0 : 1);
}
const modelMinutes = Number(values["model-minutes"]);
let ok = true;
if (values["no-faults"] !== true) {
  const report = await runChaos(FULL);
  console.log(formatReport(report));
  ok = report.ok;
}
if (modelMinutes > 0) {
  console.error(`\n[model] the model-based race test for ${modelMinutes} min`);
  const m = await runModelSoak(modelMinutes, (line) => console.error(line));
  console.log(
    `\nmodel-based race test: ${m.runs} runs, ${m.ops} operations, ${m.spends} spends, ${m.campaigns} campaigns checked: ${m.failure === undefined ? "no divergence" : `DIVERGENCE\n${m.failure}`}`,
  );
  ok &&= m.failure === undefined;
}
process.exit(ok ? 0 : 1);
