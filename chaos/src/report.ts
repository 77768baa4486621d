import type { Report } from "./run.ts";

/** The report of a run: the faults with their times, then every invariant with its figures. */
export function formatReport(r: Report): string {
  const lines: string[] = [];
  const t0 = r.faults[0]?.at ?? 0;
  lines.push(`chaos (${r.plan.name}): ${r.ok ? "every invariant holds" : "INVARIANTS BROKEN"}`, "", "faults:");
  for (const f of r.faults) lines.push(`  +${((f.at - t0) / 1000).toFixed(1).padStart(6)}s  ${f.what}`);
  lines.push("", "| invariant | holds | figures |", "| --- | --- | --- |");
  for (const v of r.verdicts) lines.push(`| ${v.name} | ${v.ok ? "yes" : "NO"} | ${v.figures} |`);
  for (const v of r.verdicts.filter((x) => !x.ok))
    lines.push("", `${v.name}:`, ...v.problems.slice(0, 15).map((p) => `  - ${p}`));
  const n = (o: "ok" | "indeterminate" | "failed") => r.load.count(o);
  lines.push(
    "",
    "| faults injected | events | acknowledged | indeterminate | refused | lost | time to converge |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    `| ${r.faults.filter((f) => /SIGKILL|killed|unreachable|slower/.test(f.what)).length} | ${r.load.records.length} | ${n("ok")} | ${n("indeterminate")} | ${n("failed")} | ${r.verdicts[0].problems.filter((p) => p.includes("LOST")).length} | ${(r.convergedMs / 1000).toFixed(1)} s |`,
  );
  return lines.join("\n");
}
