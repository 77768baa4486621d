import { expect, it } from "vitest";
import { formatReport } from "./report.ts";
import { runChaos, SHORT } from "./run.ts";

/**
 * The short run of the fault suite, in npm test: one fault of each kind (a SIGKILL of a budget
 * replica under load, PostgreSQL cut and slowed, NATS down, a campaign replica killed after a
 * crossing spend, the clocks worker killed with a boundary due, Temporal down across a local
 * midnight) on the built system, then every invariant. `npm run chaos` runs the full schedule.
 */
it("nothing acknowledged is lost and every campaign converges, through crashes and outages", async () => {
  const report = await runChaos({ ...SHORT, log: () => undefined });
  const text = formatReport(report);
  console.log(text);
  expect(
    report.verdicts.filter((v) => !v.ok).map((v) => `${v.name}: ${v.problems.slice(0, 5).join("; ")}`),
    text,
  ).toEqual([]);
  expect(report.load.count("ok")).toBeGreaterThan(100);
}, 600_000);
