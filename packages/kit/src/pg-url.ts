/**
 * PostgreSQL connection URLs as libpq reads them, including the multi-host form a failover
 * setup hands out: `postgres://user@db1:5432,db2:5432/app?target_session_attrs=read-write`.
 * `pg` (and MikroORM over it) takes one host only and `new URL` refuses the comma, so the hosts
 * are split off here and each server gets a one-host URL; `pg-primary.ts` picks the server.
 */

/** One server of a URL. */
export interface PgHost {
  readonly host: string;
  readonly port: number;
}

export interface PgUrl {
  /** The servers in the order given (tried in this order, as libpq does). */
  readonly hosts: readonly PgHost[];
  /** `target_session_attrs=read-write` (or `primary`): only a server that accepts writes will do. */
  readonly readWrite: boolean;
  /** The database named in the path ("" when none). */
  readonly database: string;
  /** A one-host URL for `host`, every other part as given (target_session_attrs left out). */
  forHost(host: PgHost): string;
}

const PROTOCOLS = new Set(["postgres", "postgresql"]);
/** libpq's values; the standby-seeking ones would send writes to a replica, so they are refused. */
const SESSION_ATTRS = new Map([
  ["any", false],
  ["read-write", true],
  ["primary", true],
]);

/** Query parameters that would name another server than the URL's hosts (pg obeys them). */
const SERVER_PARAMS = ["host", "hostaddr", "port"];
/** Query parameters that turn TLS on or configure it. */
const TLS_PARAMS = ["ssl", "sslmode", "sslcert", "sslkey", "sslrootcert"];

/**
 * Parses `text`; throws an Error whose message says what is wrong (for the config's list). A
 * message never repeats the text: a password may be in it.
 */
export function parsePgUrl(text: string): PgUrl {
  const m = /^([a-z]+):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?$/i.exec(text);
  if (!m) throw new Error("not a postgres:// URL");
  const [, scheme = "", authority = "", path = "", query = ""] = m;
  if (!PROTOCOLS.has(scheme.toLowerCase())) throw new Error(`expected a postgres: or postgresql: URL, got ${scheme}:`);
  const at = authority.lastIndexOf("@");
  // A raw / or ? in a password ends the authority early and leaves its @ further on.
  if (path.includes("@") || (at === -1 && query.includes("@")))
    throw new Error("the user or password holds a raw / ? or #: percent-encode it");
  const userinfo = at === -1 ? undefined : authority.slice(0, at);
  const servers = authority.slice(at + 1).split(",");
  const hosts = servers.map((spec, i) =>
    parseHost(spec, servers.length > 1 ? `server ${i + 1} of ${servers.length}` : "server"),
  );
  const params = new URLSearchParams(query);
  for (const name of SERVER_PARAMS)
    if (params.has(name)) throw new Error(`${name}= is not allowed: the servers are the URL's hosts`);
  if (hosts.length > 1 && TLS_PARAMS.some((name) => params.has(name) && params.get(name) !== "disable"))
    throw new Error(
      "TLS with several servers is not supported (pg would check the first server's name on every connection): " +
        "use one host (a proxy or the operator's read-write Service) or sslmode=disable on a private network",
    );
  // libpq takes the last of a repeated parameter.
  const attrs = params.getAll("target_session_attrs").at(-1) ?? "any";
  const readWrite = SESSION_ATTRS.get(attrs);
  if (readWrite === undefined) throw new Error(`target_session_attrs=${attrs}: only any, read-write or primary`);
  params.delete("target_session_attrs");
  const rest = params.toString();
  const prefix = `${scheme}://${userinfo === undefined ? "" : `${userinfo}@`}`;
  const forHost = (h: PgHost) =>
    `${prefix}${h.host.includes(":") ? `[${h.host}]` : h.host}:${h.port}${path}${rest ? `?${rest}` : ""}`;
  // Every other part (user, password, database, parameters) checked once, as `pg` will read it.
  let first: URL;
  try {
    first = new URL(forHost(hosts[0] ?? { host: "localhost", port: 5432 }));
  } catch {
    throw new Error("not a valid URL (percent-encode the user and password)");
  }
  return { hosts, readWrite, database: decodeURIComponent(first.pathname.slice(1)), forHost };
}

/**
 * `text` with its database (the path) replaced by `database`, every server kept; `text` as given
 * when it is no URL at all (`parsePgUrl` says why).
 */
export function pgUrlWithDatabase(text: string, database: string): string {
  const m = /^([a-z]+:\/\/[^/?#]*)[^?#]*(.*)$/i.exec(text);
  if (!m) return text;
  return `${m[1] ?? ""}/${encodeURIComponent(database)}${m[2] ?? ""}`;
}

function parseHost(spec: string, which: string): PgHost {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9._-]+))(?::(\d{1,5}))?$/.exec(spec);
  const host = m?.[1] ?? m?.[2];
  if (!m || host === undefined)
    throw new Error(`${which}: expected host or host:port (letters, digits, . - _; an IPv6 address in brackets)`);
  const port = m[3] === undefined ? 5432 : Number(m[3]);
  if (port < 1 || port > 65535) throw new Error(`${which}: port out of range`);
  return { host, port };
}
