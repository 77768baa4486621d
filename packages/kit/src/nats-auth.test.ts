import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nkeys } from "@nats-io/transport-node";
import { afterAll, describe, expect, it } from "vitest";
import { EnvReader, readServiceConfig } from "./config.js";
import { readNatsAuth } from "./nats-auth.js";
import { describeNatsUser, natsAuthorizationConfig, natsPermissions, type NatsUserSpec } from "./nats-permissions.js";
import { ORDERS_DEFAULTS } from "./service-defaults.test-support.js";

const dir = mkdtempSync(join(tmpdir(), "kit-nats-auth-unit-"));
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

function read(env: Record<string, string>, workload = "orders") {
  const reader = new EnvReader(env);
  return { auth: readNatsAuth(reader, workload), problems: reader.problems };
}

describe("readNatsAuth", () => {
  it("no credentials: no authentication and the client's default inboxes (today's behaviour)", () => {
    expect(read({})).toEqual({ auth: {}, problems: [] });
  });

  it("NATS_USER + NATS_PASSWORD: the user, and inboxes of the workload's own prefix", () => {
    expect(read({ NATS_USER: "orders", NATS_PASSWORD: "s3cret" })).toEqual({
      auth: { user: "orders", pass: "s3cret", inboxPrefix: "_INBOX.orders" },
      problems: [],
    });
    expect(read({ NATS_USER: "b", NATS_PASSWORD: "p", NATS_INBOX_PREFIX: "_INBOX_B" }).auth.inboxPrefix).toBe(
      "_INBOX_B",
    );
  });

  it("NATS_NKEY_SEED_FILE: signs the server's nonce with the user's key, re-reading the file at every connect", () => {
    const path = file("user.nk", `${seed}\n`);
    const { auth, problems } = read({ NATS_NKEY_SEED_FILE: path }, "stock");
    expect(problems).toEqual([]);
    expect(auth.inboxPrefix).toBe("_INBOX.stock");
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
    expect(read({ NATS_USER: "orders" }).problems).toEqual(["NATS_USER and NATS_PASSWORD must be set together"]);
    expect(read({ NATS_PASSWORD: "x" }).problems).toEqual(["NATS_USER and NATS_PASSWORD must be set together"]);
    expect(read({ NATS_USER: "u", NATS_PASSWORD: "p", NATS_CREDS_FILE: "/x.creds" }).problems).toEqual([
      "NATS credentials: set at most one of NATS_USER/NATS_PASSWORD, NATS_CREDS_FILE, NATS_NKEY_SEED_FILE (got NATS_USER/NATS_PASSWORD and NATS_CREDS_FILE)",
    ]);
    expect(read({ NATS_CREDS_FILE: "/x.creds", NATS_NKEY_SEED_FILE: "/x.nk" }).problems[0]).toMatch(/at most one/);
    expect(read({ NATS_NKEY_SEED_FILE: join(dir, "missing.nk") }).problems).toEqual([
      `NATS_NKEY_SEED_FILE=${JSON.stringify(join(dir, "missing.nk"))}: cannot read it (ENOENT)`,
    ]);
    const accountSeed = file("account.nk", nkeys.createAccount().getSeed());
    expect(read({ NATS_NKEY_SEED_FILE: accountSeed }).problems).toEqual([
      `NATS_NKEY_SEED_FILE=${JSON.stringify(accountSeed)}: expected a user nkey seed (SU...)`,
    ]);
    const garbage = file("garbage.creds", "not a creds file");
    expect(read({ NATS_CREDS_FILE: garbage }).problems).toEqual([
      `NATS_CREDS_FILE=${JSON.stringify(garbage)}: expected a .creds file (a user JWT and an nkey seed)`,
    ]);
    expect(read({ NATS_USER: "u", NATS_PASSWORD: "p", NATS_INBOX_PREFIX: "_INBOX.>" }).problems[0]).toMatch(
      /^NATS_INBOX_PREFIX="_INBOX.>": expected subject tokens/,
    );
  });

  it("readServiceConfig carries the service's credentials, named after the service", () => {
    const defaults = { ...ORDERS_DEFAULTS, pgUrl: "postgres://127.0.0.1" };
    const reader = new EnvReader({ NATS_USER: "orders", NATS_PASSWORD: "p" });
    const config = readServiceConfig(defaults, reader);
    expect(config.natsAuth).toEqual({ user: "orders", pass: "p", inboxPrefix: "_INBOX.orders" });
    const bad = new EnvReader({ NATS_CREDS_FILE: join(dir, "missing.creds") });
    readServiceConfig(defaults, bad);
    expect(bad.problems.some((p) => p.startsWith("NATS_CREDS_FILE="))).toBe(true);
  });
});

describe("NATS permissions", () => {
  const spec: NatsUserSpec = {
    inbox: "_INBOX.orders",
    owns: [{ stream: "SHOP_ORDERS", publishes: ["shop.orders.placed.*", "shop.orders.paid.*"] }],
    reads: [{ stream: "SHOP_STOCK", durable: "orders-stock", filter: "shop.stock.>" }],
    subscribes: ["shop.orders.placed.>"],
  };

  it("allows publishing the owned stream's events and looking it up and creating it, nothing more of it", () => {
    expect(natsPermissions({ ...spec, reads: [], subscribes: [] })).toEqual({
      publish: [
        "$JS.API.INFO",
        "shop.orders.placed.*",
        "shop.orders.paid.*",
        "$JS.API.STREAM.INFO.SHOP_ORDERS",
        "$JS.API.STREAM.CREATE.SHOP_ORDERS",
      ],
      subscribe: ["_INBOX.orders.>"],
    });
  });

  it("allows a read stream only through the workload's own durable and filter", () => {
    expect(natsPermissions({ ...spec, owns: [], subscribes: [] }).publish).toEqual([
      "$JS.API.INFO",
      "$JS.API.STREAM.INFO.SHOP_STOCK",
      "$JS.API.CONSUMER.INFO.SHOP_STOCK.orders-stock",
      "$JS.API.CONSUMER.CREATE.SHOP_STOCK.orders-stock.shop.stock.>",
      "$JS.API.CONSUMER.MSG.NEXT.SHOP_STOCK.orders-stock",
      "$JS.ACK.SHOP_STOCK.orders-stock.>",
    ]);
  });

  it("subscribes the inbox and the declared feeds alone", () => {
    expect(natsPermissions(spec).subscribe).toEqual(["_INBOX.orders.>", "shop.orders.placed.>"]);
    expect(natsPermissions({ inbox: "_INBOX.idle", owns: [], reads: [], subscribes: [] })).toEqual({
      publish: ["$JS.API.INFO"],
      subscribe: ["_INBOX.idle.>"],
    });
  });

  it("describes a user a line per thing it does", () => {
    expect(describeNatsUser(spec)).toBe(
      "publishes shop.orders.placed.*, shop.orders.paid.* to SHOP_ORDERS\npulls SHOP_STOCK (orders-stock, shop.stock.>)\nsubscribes shop.orders.placed.>",
    );
    expect(describeNatsUser({ inbox: "_INBOX.idle", owns: [], reads: [], subscribes: [] })).toBe("its inbox only");
  });

  it("renders users by nkey, literal password and password variable, each under its description", () => {
    const permissions = natsPermissions(spec);
    const conf = natsAuthorizationConfig({
      header: "first line\n\nthird line",
      users: [
        { user: "orders", description: "orders service\nits work", password: 'pw"1', permissions },
        { user: "orders-svc", description: "renamed", passwordVariable: "ORDERS_PW", permissions },
        { user: "stock", description: "by key", nkey: "UABC", permissions: { publish: [], subscribe: [] } },
      ],
    });
    expect(
      conf.startsWith(
        "# first line\n#\n# third line\nauthorization {\n  users = [\n    # orders service\n    # its work\n    {\n",
      ),
    ).toBe(true);
    expect(conf).toContain('user: "orders"\n      password: "pw\\"1"');
    expect(conf).toContain('user: "orders-svc"\n      password: $ORDERS_PW');
    expect(conf).toContain('nkey: "UABC"');
    expect(conf).toContain('            "$JS.API.CONSUMER.CREATE.SHOP_STOCK.orders-stock.shop.stock.>"\n');
    expect(conf.endsWith("    }\n  ]\n}\n")).toBe(true);
  });

  it("is accepted by nats-server", () => {
    const path = file(
      "auth.conf",
      natsAuthorizationConfig({
        users: [{ user: "orders", description: "x", password: "p", permissions: natsPermissions(spec) }],
      }),
    );
    const natsServer = existsSync("/usr/sbin/nats-server") ? "/usr/sbin/nats-server" : "nats-server";
    expect(spawnSync(natsServer, ["-t", "-c", path], { encoding: "utf8" })).toMatchObject({
      status: 0,
      stderr: expect.stringMatching(/is valid/),
    });
  });
});
