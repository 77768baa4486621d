/**
 * `npm run token -- --role <role> [--brand <id>]... [--ttl 1h] [--sub <name>]`: a token signed
 * with the development key the running system trusts (.data/keys, made by `npm start` on its
 * first run, or here if missing; AUTH_PRIVATE_KEY_FILE to use another key). The token is the
 * last line printed, so `$(npm run -s token -- --role admin)` works in a shell.
 *
 * Roles: admin, brand-manager and ad-server (need --brand), viewer (--brand optional: all
 * brands without), and the internal identities brand-service, budget-service,
 * campaign-service, clocks.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { JWK } from "jose";
import { BRAND_SCOPED_ROLES, ensureDevKeys, keyFiles, mintToken, ROLES, type Role } from "@adbudget/kit";

const { values } = parseArgs({
  options: {
    role: { type: "string" },
    brand: { type: "string", multiple: true },
    ttl: { type: "string", default: "1h" },
    sub: { type: "string" },
  },
});
const fail = (msg: string): never => {
  process.stderr.write(`token: ${msg}\nusage: npm run token -- --role <${ROLES.join("|")}> [--brand <id>]... [--ttl 1h] [--sub <name>]\n`);
  process.exit(2);
};
const role = values.role as Role | undefined;
if (role === undefined || !ROLES.includes(role)) fail(`--role must be one of ${ROLES.join(", ")}`);
const brands = values.brand ?? [];
if (BRAND_SCOPED_ROLES.has(role!) && brands.length === 0) fail(`a ${role} token names its brands: --brand <id>`);
const ttl = /^(\d+)(s|m|h|d)$/.exec(values.ttl!);
if (ttl === null) fail("--ttl like 90s, 30m, 1h or 7d");
const ttlSeconds = Number(ttl![1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[ttl![2] as "s" | "m" | "h" | "d"];

const keyFile = process.env.AUTH_PRIVATE_KEY_FILE || keyFiles(".data/keys").privateKeyFile;
const jwk: JWK = process.env.AUTH_PRIVATE_KEY_FILE
  ? (JSON.parse(readFileSync(keyFile, "utf8")) as JWK)
  : (await ensureDevKeys(".data/keys")).privateJwk;
const token = await mintToken(jwk, { sub: values.sub ?? `cli:${role}`, role: role!, ...(brands.length > 0 ? { brands } : {}) }, {
  audience: process.env.AUTH_AUDIENCE || "adbudget",
  ttlSeconds,
});
process.stderr.write(`${role}${brands.length > 0 ? ` of ${brands.join(", ")}` : ""}, valid ${values.ttl} (key ${jwk.kid} in ${keyFile})\n`);
console.log(token);
