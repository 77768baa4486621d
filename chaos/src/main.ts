/**
 * `npm run chaos`: the full fault schedule (two SIGKILLs of budget replicas under load, a
 * campaign replica killed right after a crossing spend, the clocks worker killed with a
 * boundary due, PostgreSQL cut and slowed, NATS and Temporal down for 10 s each) on the built
 * system, then every invariant with its figures. Exit 1 when one does not hold.
 */
import { formatReport } from "./report.ts";
import { FULL, runChaos } from "./run.ts";

const report = await runChaos(FULL);
console.log(formatReport(report));
process.exit(report.ok ? 0 : 1);
