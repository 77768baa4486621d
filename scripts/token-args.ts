/**
 * The command line of `npm run token`, parsed without side effects so every mistake a person
 * makes at a shell gets one line that says what to type instead (and a test), never a stack
 * trace. The roles come from the caller, so this file knows nothing of the access policy.
 */
import { parseArgs } from "node:util";

/** What the roles of the access policy allow a token to say about brands. */
export interface RoleRules {
  roles: readonly string[];
  /** Roles whose tokens must name their brands. */
  mustNameBrands: ReadonlySet<string>;
  /** Roles whose tokens may name brands (the others act on all brands). */
  mayNameBrands: ReadonlySet<string>;
  /** The longest a token may live: the services refuse longer ones. */
  maxTtlSeconds: number;
}

export interface TokenRequest {
  role: string;
  brands: string[];
  ttlSeconds: number;
  /** As typed, for the confirmation line ("valid 1h"). */
  ttl: string;
  sub: string;
}

export type TokenArgs =
  { kind: "help" } | { kind: "mint"; request: TokenRequest } | { kind: "usage-error"; message: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TTL = /^([1-9]\d{0,5})(s|m|h|d)$/;
const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 };
const VALUE_OPTIONS = new Set(["--role", "--brand", "--ttl", "--sub"]);

/** The help text: `npm run token -- --help` prints it on stdout. */
export function usage(rules: RoleRules): string {
  return [
    "usage: npm run -s token -- --role <role> [--brand <id>]... [--ttl <duration>] [--sub <name>]",
    "",
    "Prints a token signed with the development key the running system trusts (.data/keys, made",
    "by `npm start`, or made here when missing; AUTH_PRIVATE_KEY_FILE signs with another key).",
    "The token is the last line on stdout, so TOKEN=$(npm run -s token -- --role admin) works.",
    "",
    "  --role   one of: " + rules.roles.join(", "),
    `           ${[...rules.mustNameBrands].join(" and ")} must name their brands; ` +
      `${[...rules.mayNameBrands].filter((r) => !rules.mustNameBrands.has(r)).join(", ")} may (all brands without)`,
    "  --brand  a brand id (UUID) the token acts on; repeat for several brands",
    `  --ttl    how long the token is valid: 90s, 30m, 1h (default), at most ${rules.maxTtlSeconds / 3600}h`,
    "  --sub    the caller's name, kept in audit records (default cli:<role>)",
    "  --help   this text",
    "",
    "Exit codes: 0 token printed, 2 the command line is wrong, 1 the signing key could not be used.",
  ].join("\n");
}

/**
 * Reads argv (without `node script`). An option that takes a value but is followed by nothing
 * or by another option is the usual result of an empty shell variable (`--brand $BRAND` after a
 * failed call): it is named as such, not reported as node's "ambiguous argument".
 */
export function parseTokenArgs(argv: readonly string[], rules: RoleRules): TokenArgs {
  if (argv.includes("--help") || argv.includes("-h")) return { kind: "help" };
  const fail = (message: string): TokenArgs => ({ kind: "usage-error", message });
  for (const [i, arg] of argv.entries()) {
    const next = argv[i + 1];
    if (VALUE_OPTIONS.has(arg) && (next === undefined || next.startsWith("--"))) {
      return fail(
        `${arg} needs a value${arg === "--brand" ? " (a brand id; is the variable that should hold it empty?)" : ""}`,
      );
    }
  }
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        role: { type: "string" },
        brand: { type: "string", multiple: true },
        ttl: { type: "string", default: "1h" },
        sub: { type: "string" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    // node's messages for unknown options and stray arguments are clear; the rest is ours.
    return fail(err instanceof Error ? err.message : String(err));
  }
  const { role, ttl, sub } = values;
  if (role === undefined) return fail("--role is required");
  if (!rules.roles.includes(role))
    return fail(`--role ${JSON.stringify(role)} is not a role; roles: ${rules.roles.join(", ")}`);
  const brands = values.brand ?? [];
  const notId = brands.find((b) => !UUID.test(b));
  if (notId !== undefined) {
    return fail(
      `--brand ${JSON.stringify(notId)} is not a brand id (a UUID such as 0199a1b2-...; is the variable that should hold it empty?)`,
    );
  }
  const a = /^[aeiou]/.test(role) ? "an" : "a";
  if (rules.mustNameBrands.has(role) && brands.length === 0)
    return fail(`${a} ${role} token names its brands: add --brand <id>`);
  if (!rules.mayNameBrands.has(role) && brands.length > 0)
    return fail(`${a} ${role} token acts on all brands: leave out --brand`);
  const ttlMatch = TTL.exec(ttl);
  const longest = `${rules.maxTtlSeconds / 3600}h`;
  if (ttlMatch === null) return fail(`--ttl ${JSON.stringify(ttl)} is not a duration: use 90s, 30m, 1h or ${longest}`);
  const [, amount = "", unit = ""] = ttlMatch;
  const ttlSeconds = Number(amount) * (UNIT_SECONDS[unit] ?? 1);
  if (ttlSeconds > rules.maxTtlSeconds)
    return fail(
      `--ttl ${ttl} is longer than the services accept: at most ${longest} (mint a new token when it expires)`,
    );
  if (sub !== undefined && sub.trim() === "") return fail("--sub must not be empty");
  return {
    kind: "mint",
    request: { role, brands, ttl, ttlSeconds, sub: sub ?? `cli:${role}` },
  };
}
