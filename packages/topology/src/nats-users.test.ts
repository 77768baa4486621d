import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { EnvReader } from "@adbudget/kit";
import { WORKLOADS, type Workload } from "./declaration.js";
import { natsAuthorization, natsWorkloadPermissions } from "./nats-users.js";
import { readSystemTopology } from "./read-topology.js";

const topology = readSystemTopology(new EnvReader({}));
const permissions = (w: Workload) => natsWorkloadPermissions(w, topology);

describe("the workloads' NATS users", () => {
  it("each publishes only its own events and subscribes only its own inbox and the feeds of its own events", () => {
    const events = (w: Workload) => permissions(w).publish.filter((s) => !s.startsWith("$JS."));
    expect(events("brand")).toEqual(["adbudget.brand.changed.*"]);
    expect(events("budget")).toEqual([
      "adbudget.budget.exhausted.*",
      "adbudget.budget.replenished.*",
      "adbudget.budget.threshold.*",
      "adbudget.budget.campaign_exhausted.*",
      "adbudget.budget.campaign_replenished.*",
      "adbudget.budget.throttle.*",
    ]);
    expect(events("campaign")).toEqual(["adbudget.campaign.state.*"]);
    expect(events("clocks")).toEqual([]);
    expect(permissions("campaign").subscribe).toEqual(["_INBOX.campaign.>", "adbudget.campaign.state.>"]);
    expect(permissions("budget").subscribe).toEqual(["_INBOX.budget.>", "adbudget.budget.threshold.>"]);
    for (const w of ["brand", "clocks"] as const) expect(permissions(w).subscribe).toEqual([`_INBOX.${w}.>`]);
    // No wildcard over the JetStream API or acks: every rule names a stream and, for consumers, a durable.
    for (const w of WORKLOADS) {
      for (const s of permissions(w).publish.filter((x) => x.startsWith("$JS."))) {
        expect(s, `${w}: ${s}`).toMatch(
          /^\$JS\.API\.INFO$|^\$JS\.API\.STREAM\.(INFO|CREATE)\.ADBUDGET_[A-Z]+$|^\$JS\.API\.CONSUMER\.(INFO|MSG\.NEXT)\.ADBUDGET_[A-Z]+\.[a-z-]+$|^\$JS\.API\.CONSUMER\.CREATE\.ADBUDGET_[A-Z]+\.[a-z-]+\.adbudget\.[a-z]+\.>$|^\$JS\.ACK\.ADBUDGET_[A-Z]+\.[a-z-]+\.>$/,
        );
      }
    }
  });

  it("only the owner creates a stream; readers look it up and use their own durable consumers", () => {
    const creates = (w: Workload) => permissions(w).publish.filter((s) => s.startsWith("$JS.API.STREAM.CREATE."));
    expect(WORKLOADS.map(creates)).toEqual([
      ["$JS.API.STREAM.CREATE.ADBUDGET_BRAND"],
      ["$JS.API.STREAM.CREATE.ADBUDGET_BUDGET"],
      ["$JS.API.STREAM.CREATE.ADBUDGET_CAMPAIGN"],
      [],
    ]);
    expect(permissions("clocks").publish).toContain("$JS.API.CONSUMER.MSG.NEXT.ADBUDGET_BRAND.clocks-brand-events");
    expect(permissions("campaign").publish).not.toContain(
      "$JS.API.CONSUMER.MSG.NEXT.ADBUDGET_BRAND.clocks-brand-events",
    );
  });

  it("follows the names in the environment", () => {
    const t = readSystemTopology(
      new EnvReader({ EVENT_SUBJECT_PREFIX: "t1", BRAND_STREAM: "T1_BRAND", CLOCKS_BRAND_CONSUMER: "cb" }),
    );
    expect(natsWorkloadPermissions("brand", t).publish).toEqual([
      "$JS.API.INFO",
      "t1.brand.changed.*",
      "$JS.API.STREAM.INFO.T1_BRAND",
      "$JS.API.STREAM.CREATE.T1_BRAND",
    ]);
    expect(natsWorkloadPermissions("clocks", t).publish).toContain("$JS.API.CONSUMER.CREATE.T1_BRAND.cb.t1.brand.>");
  });

  it("renders one user per workload, with the secrets it is given", () => {
    const conf = natsAuthorization({
      topology,
      users: {
        brand: { password: "pw" },
        budget: { user: "budget-svc", passwordVariable: "BUDGET_PW" },
        campaign: { nkey: "UABC" },
        clocks: { nkey: "UDEF" },
      },
      extraUsers: [
        { user: "admin", description: "everything", password: "a", permissions: { publish: [">"], subscribe: [">"] } },
      ],
    });
    expect(conf).toContain(
      '    # brand service\n    # publishes adbudget.brand.changed.* to ADBUDGET_BRAND\n    {\n      user: "brand"\n      password: "pw"',
    );
    expect(conf).toContain('user: "budget-svc"\n      password: $BUDGET_PW');
    expect(conf).toContain("    # clocks worker\n    # pulls ADBUDGET_BRAND (clocks-brand-events, adbudget.brand.>)\n");
    expect(conf).toContain('nkey: "UDEF"');
    expect(conf).toContain('user: "admin"');
  });

  it("deploy/local/nats-auth.conf is what scripts/nats-auth-conf.ts prints for the defaults, and nats-server accepts it", () => {
    const root = fileURLToPath(new URL("../../../", import.meta.url));
    const env: Record<string, string> = { PATH: process.env.PATH ?? "" };
    const printed = execFileSync(process.execPath, [join(root, "scripts/nats-auth-conf.ts")], {
      env,
      encoding: "utf8",
    });
    const committed = readFileSync(join(root, "deploy/local/nats-auth.conf"), "utf8");
    expect(committed, "regenerate: node scripts/nats-auth-conf.ts > deploy/local/nats-auth.conf").toBe(printed);
    const passwords = Object.fromEntries([...WORKLOADS, "admin"].map((w) => [`NATS_${w.toUpperCase()}_PASSWORD`, "x"]));
    const natsServer = existsSync("/usr/sbin/nats-server") ? "/usr/sbin/nats-server" : "nats-server";
    const check = (vars: Record<string, string>) =>
      spawnSync(natsServer, ["-t", "-c", join(root, "deploy/local/nats-auth.conf")], {
        env: { ...env, ...vars },
        encoding: "utf8",
      });
    expect(check(passwords)).toMatchObject({ status: 0, stderr: expect.stringMatching(/is valid/) });
    // The passwords come from nats-server's environment: one missing, and it refuses to start.
    const { NATS_CLOCKS_PASSWORD: _, ...withoutOne } = passwords;
    expect(check(withoutOne)).toMatchObject({ status: 1, stderr: expect.stringMatching(/NATS_CLOCKS_PASSWORD/) });
  });
});
