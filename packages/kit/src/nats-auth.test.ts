import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { nkeys } from "@nats-io/transport-node";
import { afterAll, describe, expect, it } from "vitest";
import { EnvReader, readServiceConfig } from "./config.js";
import { readNatsAuth } from "./nats-auth.js";
import { natsAuthorizationConfig, natsWorkloadPermissions, readNatsTopology } from "./nats-permissions.js";

const dir = mkdtempSync(join(tmpdir(), "adbudget-nats-auth-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: string | Uint8Array) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
const user = nkeys.createUser();
const seed = new TextDecoder().decode(user.getSeed());
/** A .creds file as nsc writes it (the JWT is not checked by the client, only by the server). */
const creds = (jwt: string, s: string) =>
  `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n************************* IMPORTANT *************************\n` +
  `NKEY Seed printed below can be used to sign and prove identity.\n\n-----BEGIN USER NKEY SEED-----\n${s}\n------END USER NKEY SEED------\n`;

function read(env: Record<string, string>, workload = "budget") {
  const reader = new EnvReader(env);
  return { auth: readNatsAuth(reader, workload), problems: reader.problems };
}

describe("readNatsAuth", () => {
  it("no credentials: no authentication and the client's default inboxes (today's behaviour)", () => {
    expect(read({})).toEqual({ auth: {}, problems: [] });
  });

  it("NATS_USER + NATS_PASSWORD: the user, and inboxes of the workload's own prefix", () => {
    expect(read({ NATS_USER: "budget", NATS_PASSWORD: "s3cret" })).toEqual({
      auth: { user: "budget", pass: "s3cret", inboxPrefix: "_INBOX.budget" },
      problems: [],
    });
    expect(read({ NATS_USER: "b", NATS_PASSWORD: "p", NATS_INBOX_PREFIX: "_INBOX_B" }).auth.inboxPrefix).toBe("_INBOX_B");
  });

  it("NATS_NKEY_SEED_FILE: signs the server's nonce with the user's key, re-reading the file at every connect", () => {
    const path = file("user.nk", `${seed}\n`);
    const { auth, problems } = read({ NATS_NKEY_SEED_FILE: path }, "clocks");
    expect(problems).toEqual([]);
    expect(auth.inboxPrefix).toBe("_INBOX.clocks");
    const signed = (auth.authenticator as (nonce: string) => { nkey: string; sig: string })("nonce-1");
    expect(signed.nkey).toBe(user.getPublicKey());
    expect(user.verify(new TextEncoder().encode("nonce-1"), nkeys.decode(signed.sig))).toBe(true);
    // Rotated in place: the next connect uses the new key.
    const next = nkeys.createUser();
    writeFileSync(path, next.getSeed());
    expect((auth.authenticator as (nonce: string) => { nkey: string })("nonce-2").nkey).toBe(next.getPublicKey());
  });

  it("NATS_CREDS_FILE: the JWT and a signature by its seed", () => {
    const { auth, problems } = read({ NATS_CREDS_FILE: file("user.creds", creds("eyJ0eXAiOiJKV1QifQ.e30.sig", seed)) });
    expect(problems).toEqual([]);
    const signed = (auth.authenticator as (nonce: string) => { jwt: string; nkey: string })("nonce");
    expect(signed).toMatchObject({ jwt: "eyJ0eXAiOiJKV1QifQ.e30.sig", nkey: user.getPublicKey() });
  });

  it("bad settings are problems, listed with the others, that name the variable", () => {
    expect(read({ NATS_USER: "budget" }).problems).toEqual(["NATS_USER and NATS_PASSWORD must be set together"]);
    expect(read({ NATS_PASSWORD: "x" }).problems).toEqual(["NATS_USER and NATS_PASSWORD must be set together"]);
    expect(read({ NATS_USER: "u", NATS_PASSWORD: "p", NATS_CREDS_FILE: "/x.creds" }).problems).toEqual([
      "NATS credentials: set at most one of NATS_USER/NATS_PASSWORD, NATS_CREDS_FILE, NATS_NKEY_SEED_FILE (got NATS_USER/NATS_PASSWORD and NATS_CREDS_FILE)",
    ]);
    expect(read({ NATS_CREDS_FILE: "/x.creds", NATS_NKEY_SEED_FILE: "/x.nk" }).problems[0]).toMatch(/at most one/);
    expect(read({ NATS_NKEY_SEED_FILE: join(dir, "missing.nk") }).problems).toEqual([`NATS_NKEY_SEED_FILE=${JSON.stringify(join(dir, "missing.nk"))}: cannot read it (ENOENT)`]);
    const accountSeed = file("account.nk", nkeys.createAccount().getSeed());
    expect(read({ NATS_NKEY_SEED_FILE: accountSeed }).problems).toEqual([`NATS_NKEY_SEED_FILE=${JSON.stringify(accountSeed)}: expected a user nkey seed (SU...)`]);
    const garbage = file("garbage.creds", "not a creds file");
    expect(read({ NATS_CREDS_FILE: garbage }).problems).toEqual([`NATS_CREDS_FILE=${JSON.stringify(garbage)}: expected a .creds file (a user JWT and an nkey seed)`]);
    expect(read({ NATS_USER: "u", NATS_PASSWORD: "p", NATS_INBOX_PREFIX: "_INBOX.>" }).problems[0]).toMatch(/^NATS_INBOX_PREFIX="_INBOX.>": expected subject tokens/);
  });

  it("readServiceConfig carries the service's credentials, named after the service", () => {
    const defaults = { name: "orders", prefix: "ORDERS", port: 7001, metricsPort: 7401, database: "orders", pgUrl: "postgres://127.0.0.1", natsUrl: "nats://127.0.0.1:4222" };
    const reader = new EnvReader({ NATS_USER: "orders", NATS_PASSWORD: "p" });
    const config = readServiceConfig(defaults, reader);
    expect(config.natsAuth).toEqual({ user: "orders", pass: "p", inboxPrefix: "_INBOX.orders" });
    const bad = new EnvReader({ NATS_CREDS_FILE: join(dir, "missing.creds") });
    readServiceConfig(defaults, bad);
    expect(bad.problems.some((p) => p.startsWith("NATS_CREDS_FILE="))).toBe(true);
  });
});

describe("NATS permissions", () => {
  const topology = readNatsTopology(new EnvReader({}));

  it("each workload publishes only its own events and subscribes only its own inbox (campaign: also its own events)", () => {
    const events = (w: "brand" | "budget" | "campaign" | "clocks") => natsWorkloadPermissions(w, topology).publish.filter((s) => !s.startsWith("$JS."));
    expect(events("brand")).toEqual(["adbudget.brand.changed.*"]);
    expect(events("budget")).toEqual([
      "adbudget.budget.exhausted.*", "adbudget.budget.replenished.*", "adbudget.budget.threshold.*",
      "adbudget.budget.campaign_exhausted.*", "adbudget.budget.campaign_replenished.*",
    ]);
    expect(events("campaign")).toEqual(["adbudget.campaign.state.*"]);
    expect(events("clocks")).toEqual([]);
    expect(natsWorkloadPermissions("campaign", topology).subscribe).toEqual(["_INBOX.campaign.>", "adbudget.campaign.state.>"]);
    for (const w of ["brand", "budget", "clocks"] as const) expect(natsWorkloadPermissions(w, topology).subscribe).toEqual([`_INBOX.${w}.>`]);
    // No wildcard over the JetStream API or acks: every rule names a stream and, for consumers, a durable.
    for (const w of ["brand", "budget", "campaign", "clocks"] as const) {
      for (const s of natsWorkloadPermissions(w, topology).publish.filter((x) => x.startsWith("$JS."))) {
        expect(s, `${w}: ${s}`).toMatch(/^\$JS\.API\.INFO$|^\$JS\.API\.STREAM\.(INFO|CREATE)\.ADBUDGET_[A-Z]+$|^\$JS\.API\.CONSUMER\.(INFO|MSG\.NEXT)\.ADBUDGET_[A-Z]+\.[a-z-]+$|^\$JS\.API\.CONSUMER\.CREATE\.ADBUDGET_[A-Z]+\.[a-z-]+\.adbudget\.[a-z]+\.>$|^\$JS\.ACK\.ADBUDGET_[A-Z]+\.[a-z-]+\.>$/);
      }
    }
  });

  it("only the owner creates a stream; readers look it up and use their own durable consumers", () => {
    const creates = (w: "brand" | "budget" | "campaign" | "clocks") => natsWorkloadPermissions(w, topology).publish.filter((s) => s.startsWith("$JS.API.STREAM.CREATE."));
    expect([creates("brand"), creates("budget"), creates("campaign"), creates("clocks")]).toEqual([
      ["$JS.API.STREAM.CREATE.ADBUDGET_BRAND"],
      ["$JS.API.STREAM.CREATE.ADBUDGET_BUDGET"],
      ["$JS.API.STREAM.CREATE.ADBUDGET_CAMPAIGN"],
      [],
    ]);
    expect(natsWorkloadPermissions("clocks", topology).publish).toContain("$JS.API.CONSUMER.MSG.NEXT.ADBUDGET_BRAND.clocks-brand-events");
    expect(natsWorkloadPermissions("campaign", topology).publish).not.toContain("$JS.API.CONSUMER.MSG.NEXT.ADBUDGET_BRAND.clocks-brand-events");
  });

  it("deploy/local/nats-auth.conf is what scripts/nats-auth-conf.ts prints for the defaults, and nats-server accepts it", () => {
    const root = fileURLToPath(new URL("../../../", import.meta.url));
    const env: Record<string, string> = { PATH: process.env.PATH ?? "" };
    const printed = execFileSync(process.execPath, [join(root, "scripts/nats-auth-conf.ts")], { env, encoding: "utf8" });
    const committed = readFileSync(join(root, "deploy/local/nats-auth.conf"), "utf8");
    expect(committed, "regenerate: node scripts/nats-auth-conf.ts > deploy/local/nats-auth.conf").toBe(printed);
    const passwords = Object.fromEntries(["BRAND", "BUDGET", "CAMPAIGN", "CLOCKS", "ADMIN"].map((w) => [`NATS_${w}_PASSWORD`, "x"]));
    const natsServer = existsSync("/usr/sbin/nats-server") ? "/usr/sbin/nats-server" : "nats-server";
    const check = (vars: Record<string, string>) => spawnSync(natsServer, ["-t", "-c", join(root, "deploy/local/nats-auth.conf")], { env: { ...env, ...vars }, encoding: "utf8" });
    expect(check(passwords)).toMatchObject({ status: 0, stderr: expect.stringMatching(/is valid/) });
    // The passwords come from nats-server's environment: one missing, and it refuses to start.
    const { NATS_CLOCKS_PASSWORD: _, ...withoutOne } = passwords;
    expect(check(withoutOne)).toMatchObject({ status: 1, stderr: expect.stringMatching(/NATS_CLOCKS_PASSWORD/) });
  });

  it("renders nkey users and literal passwords too", () => {
    const conf = natsAuthorizationConfig({
      topology: readNatsTopology(new EnvReader({ EVENT_SUBJECT_PREFIX: "t1", BRAND_STREAM: "T1_BRAND" })),
      users: { brand: { password: "pw\"1" }, budget: { user: "budget-svc", passwordVariable: "BUDGET_PW" }, campaign: { nkey: "UABC" }, clocks: { nkey: "UDEF" } },
    });
    expect(conf).toContain('user: "brand"\n      password: "pw\\"1"');
    expect(conf).toContain('user: "budget-svc"\n      password: $BUDGET_PW');
    expect(conf).toContain('nkey: "UABC"');
    expect(conf).toContain('"t1.brand.changed.*"');
    expect(conf).toContain('"$JS.API.STREAM.CREATE.T1_BRAND"');
  });
});
