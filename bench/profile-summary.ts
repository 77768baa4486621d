/**
 * Where a process spends its CPU: reads a V8 .cpuprofile (node --cpu-prof; the benches write one
 * per service with BENCH_PROFILE_DIR) and prints self time grouped by area (our packages by file,
 * node_modules by package, Node internals, GC, idle), the top functions, and the share of each.
 *
 * With `--calls N` (the calls the process served meanwhile), times are also shown in
 * microseconds per call; "inclusive" counts a sample for every area on its stack (what runs
 * beneath a library's frames: a validator's CEL, a logger's serializer).
 *
 *   node bench/profile-summary.ts <file.cpuprofile> [--top 25] [--calls 20000]
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: "string", default: "25" }, calls: { type: "string" } },
});
const profile = JSON.parse(readFileSync(positionals[0], "utf8")) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...self.values()].reduce((a, b) => a + b, 0);

/** The area of a frame: an adbudget file, an npm package, node internals, or V8's own buckets. */
function area(n: Node): string {
  const { url, functionName } = n.callFrame;
  if (url === "") return `(${functionName || "native"})`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `npm ${pkg[1]}`;
  const ours = /(services|packages|workflows)\/([^/]+)\/(?:dist|src)\/(.+?)\.[jt]s$/.exec(url);
  if (ours) return `${ours[2]}/${ours[3]}`;
  if (url.startsWith("node:")) return "node internals";
  return url;
}

/**
 * The RPC stack itself: connect, Node's HTTP/2 and streams, V8's buckets. "Attributed" time
 * charges a sample to the nearest frame up its stack that is not the stack (our file or another
 * package), so Node work done for pg or pino is charged to them; what remains is the RPC stack's.
 */
const STACK = /^(node internals|npm @connectrpc\/connect(-node)?|\(.*\)|kit\/node-adapter|kit\/server)$/;
const attributed = new Map<string, number>();
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const inclusive = new Map<string, number>();
const areas = new Map<string, number>();
const functions = new Map<string, number>();
for (const [id, us] of self) {
  const n = byId.get(id)!;
  areas.set(area(n), (areas.get(area(n)) ?? 0) + us);
  const fn = `${n.callFrame.functionName || "(anonymous)"} ${area(n)}:${n.callFrame.lineNumber + 1}`;
  functions.set(fn, (functions.get(fn) ?? 0) + us);
  let owner = "RPC stack (connect, node:http2, V8)";
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const a = area(byId.get(at)!);
    if (a === "((idle))" || a === "((garbage collector))" || a === "((program))") {
      owner = a;
      break;
    }
    if (!STACK.test(a)) {
      owner = a;
      break;
    }
  }
  attributed.set(owner, (attributed.get(owner) ?? 0) + us);
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) seen.add(area(byId.get(at)!));
  for (const a of seen) inclusive.set(a, (inclusive.get(a) ?? 0) + us);
}
const calls = values.calls === undefined ? undefined : Number(values.calls);
const pct = (us: number) =>
  `${((100 * us) / total).toFixed(1).padStart(5)}%${calls ? `  ${(us / calls).toFixed(1).padStart(7)} µs/call` : ""}`;
const busy = total - (areas.get("((idle))") ?? 0);
console.log(
  `${positionals[0]}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (${pct(busy)})`,
);
console.log("\nself time by area:");
for (const [a, us] of [...areas].sort((x, y) => y[1] - x[1]).slice(0, 30)) console.log(`  ${pct(us)}  ${a}`);
console.log("\nattributed (each sample to the nearest frame above it outside the RPC stack):");
for (const [a, us] of [...attributed].sort((x, y) => y[1] - x[1]).slice(0, 30)) console.log(`  ${pct(us)}  ${a}`);
console.log("\ninclusive by area (a sample counts for every area on its stack):");
for (const [a, us] of [...inclusive]
  .filter(([a]) => !a.startsWith("(("))
  .sort((x, y) => y[1] - x[1])
  .slice(0, 30))
  console.log(`  ${pct(us)}  ${a}`);
console.log(`\ntop ${values.top} functions:`);
for (const [f, us] of [...functions].sort((x, y) => y[1] - x[1]).slice(0, Number(values.top)))
  console.log(`  ${pct(us)}  ${f}`);
