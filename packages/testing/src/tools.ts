import { existsSync } from "node:fs";
import { join } from "node:path";

/**
 * A tool binary the tests run (the Temporal CLI, grpcurl): on PATH, or where `go install` puts
 * it ($GOPATH/bin, default ~/go/bin). deploy/local/infra.sh and scripts/test.sh build them.
 */
export function toolBinary(name: string): string {
  const candidates = [
    ...(process.env.PATH ?? "")
      .split(":")
      .filter(Boolean)
      .map((d) => join(d, name)),
    join(process.env.GOPATH ?? join(process.env.HOME ?? "/root", "go"), "bin", name),
  ];
  const found = candidates.find((c) => existsSync(c));
  if (found === undefined)
    throw new Error(`${name} not found on PATH or in $GOPATH/bin: npm test builds it (go install)`);
  return found;
}
