import { execFileSync } from "node:child_process";
import { chownSync, existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

/**
 * The PostgreSQL programs a test runs itself (pg_ctl, pg_autoctl), from Debian's packages. As
 * root they run as the `postgres` user: the server refuses to run as root.
 */

/** The newest installed PostgreSQL's bin directory (/usr/lib/postgresql/<n>/bin). */
export function pgBinDir(): string {
  const base = "/usr/lib/postgresql";
  const versions = existsSync(base) ? readdirSync(base).filter((v) => /^\d+$/.test(v)) : [];
  const newest = versions.sort((a, b) => Number(a) - Number(b)).at(-1);
  if (newest === undefined) throw new Error(`no PostgreSQL under ${base}: npm test installs it`);
  return join(base, newest, "bin");
}

/** pg_auto_failover's keeper (Debian's pg-auto-failover-cli; npm test installs it). */
export function pgAutoctl(): string {
  for (const p of ["/usr/bin/pg_autoctl", join(pgBinDir(), "pg_autoctl")]) if (existsSync(p)) return p;
  throw new Error("pg_autoctl not found: apt-get install postgresql-15-auto-failover (npm test does)");
}

const asRoot = process.getuid?.() === 0;

/** `argv` as spawn's command and arguments, run as `postgres` when this process is root. */
export function runAsPostgres(argv: string[]): [string, string[]] {
  const [command = "", ...args] = argv;
  return asRoot ? ["runuser", ["-u", "postgres", "--", command, ...args]] : [command, args];
}

/** Gives `dir` to the `postgres` user when this process is root (its data directories live there). */
export function giveToPostgres(dir: string): void {
  if (!asRoot) return;
  const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
  chownSync(dir, id("-u"), id("-g"));
}
