/**
 * NATS credentials of a workload (a service or a worker), read once at start with the
 * other settings: a bad or ambiguous setting is listed with every other configuration problem.
 *
 * - `NATS_USER` + `NATS_PASSWORD`: username and password (nats-server `authorization.users`).
 * - `NATS_CREDS_FILE`: a `.creds` file (a user JWT and its nkey seed, decentralized auth).
 * - `NATS_NKEY_SEED_FILE`: a file holding a user nkey seed (`SU...`, nats-server `nkey` users).
 * - none of them: no authentication (the default; the local NATS of `npm start` has none).
 *
 * At most one method. The files are checked at start and read again at every (re)connect, so
 * rotated credentials are picked up without a restart.
 *
 * With credentials, the connection's reply subjects are `_INBOX.<workload>.>` (`NATS_INBOX_PREFIX`
 * overrides): a user may then subscribe to its own inboxes only, and no workload can read the
 * replies and JetStream deliveries of another (see nats-permissions.ts). Without credentials the
 * client's default (`_INBOX`) stays.
 */
import { readFileSync } from "node:fs";
import {
  credsAuthenticator,
  nkeyAuthenticator,
  type Authenticator,
  type ConnectionOptions,
} from "@nats-io/transport-node";
import type { EnvReader } from "./config.js";

/** The connect options of a workload's credentials and TLS (empty: no authentication, plain text). */
export type NatsAuthOptions = Pick<ConnectionOptions, "user" | "pass" | "authenticator" | "inboxPrefix" | "tls">;

/** The variables of the methods, for messages. */
const METHODS = ["NATS_USER/NATS_PASSWORD", "NATS_CREDS_FILE", "NATS_NKEY_SEED_FILE"] as const;

/** The inbox prefix of a workload with credentials: its users may subscribe to `<prefix>.>` only. */
export function natsInboxPrefix(workload: string): string {
  return `_INBOX.${workload}`;
}

/**
 * Reads the NATS credentials of `workload` (a service's or a worker's name: it names the inbox
 * prefix). Problems go to `reader.problems`; the caller's `reader.done()` reports them.
 */
export function readNatsAuth(reader: EnvReader, workload: string): NatsAuthOptions {
  const user = reader.string("NATS_USER", "");
  const pass = reader.string("NATS_PASSWORD", "");
  const credsFile = reader.string("NATS_CREDS_FILE", "");
  const seedFile = reader.string("NATS_NKEY_SEED_FILE", "");
  const chosen = [user !== "" || pass !== "", credsFile !== "", seedFile !== ""];
  if (chosen.filter(Boolean).length > 1) {
    reader.problems.push(
      `NATS credentials: set at most one of ${METHODS.join(", ")} (got ${METHODS.filter((_, i) => chosen[i]).join(" and ")})`,
    );
    return {};
  }
  if (!chosen.some(Boolean)) return {};
  const inboxPrefix = reader.string("NATS_INBOX_PREFIX", natsInboxPrefix(workload));
  if (!/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/.test(inboxPrefix)) {
    reader.problems.push(
      `NATS_INBOX_PREFIX=${JSON.stringify(inboxPrefix)}: expected subject tokens (letters, digits, _ - $) separated by dots, no wildcards`,
    );
  }
  if (user !== "" || pass !== "") {
    if (user === "" || pass === "") reader.problems.push("NATS_USER and NATS_PASSWORD must be set together");
    return { user, pass, inboxPrefix };
  }
  if (credsFile !== "") {
    const authenticator = fileAuthenticator(
      reader,
      "NATS_CREDS_FILE",
      credsFile,
      credsAuthenticator,
      "a .creds file (a user JWT and an nkey seed)",
    );
    return authenticator ? { authenticator, inboxPrefix } : {};
  }
  const authenticator = fileAuthenticator(
    reader,
    "NATS_NKEY_SEED_FILE",
    seedFile,
    (read) => nkeyAuthenticator(() => trimmed(read())),
    "a user nkey seed (SU...)",
  );
  return authenticator ? { authenticator, inboxPrefix } : {};
}

/**
 * An authenticator that reads `path` at every (re)connect, checked once now by signing a test
 * nonce with it (the library's own parsing: a file it cannot use is a problem at start).
 */
function fileAuthenticator(
  reader: EnvReader,
  name: string,
  path: string,
  make: (read: () => Uint8Array) => Authenticator,
  expected: string,
): Authenticator | undefined {
  const read = () => new Uint8Array(readFileSync(path));
  try {
    read();
  } catch (err) {
    reader.problems.push(
      `${name}=${JSON.stringify(path)}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
    return undefined;
  }
  const authenticator = make(read);
  try {
    const auth = authenticator("config-check") as { nkey?: string } | undefined;
    if (!auth?.nkey?.startsWith("U")) throw new Error("not a user key");
  } catch {
    reader.problems.push(`${name}=${JSON.stringify(path)}: expected ${expected}`);
    return undefined;
  }
  return authenticator;
}

/** A seed file's bytes without surrounding whitespace (a trailing newline is common). */
function trimmed(bytes: Uint8Array): Uint8Array {
  return new TextEncoder().encode(new TextDecoder().decode(bytes).trim());
}
