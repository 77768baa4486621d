import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EnvReader } from "@adbudget/kit";
import { readTemporalAuth, temporalConnectionOptions } from "./temporal-connection.js";

const dir = mkdtempSync(join(tmpdir(), "temporal-auth-"));
const file = (name: string, content: string) => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};
const read = (env: Record<string, string>) => {
  const r = new EnvReader(env);
  return { settings: readTemporalAuth(r), problems: r.problems };
};

describe("Temporal TLS and API key settings", () => {
  it("connect in clear by default (the dev server has no auth)", () => {
    const { settings, problems } = read({});
    expect(problems).toEqual([]);
    expect(temporalConnectionOptions(settings)).toEqual({});
  });

  it("mTLS with a CA and a client certificate, and an API key read from its file", () => {
    const env = {
      TEMPORAL_TLS_CA_FILE: file("ca.pem", "CA"),
      TEMPORAL_TLS_CERT_FILE: file("crt.pem", "CRT"),
      TEMPORAL_TLS_KEY_FILE: file("key.pem", "KEY"),
      TEMPORAL_TLS_SERVER_NAME: "ns.tmprl.cloud",
      TEMPORAL_API_KEY_FILE: file("api-key", "secret-key\n"),
    };
    const { settings, problems } = read(env);
    expect(problems).toEqual([]);
    const options = temporalConnectionOptions(settings);
    expect(options.apiKey).toBe("secret-key");
    expect(options.tls).toMatchObject({ serverNameOverride: "ns.tmprl.cloud" });
    const tls = options.tls as { serverRootCACertificate: Buffer; clientCertPair: { crt: Buffer; key: Buffer } };
    expect(tls.serverRootCACertificate.toString()).toBe("CA");
    expect(tls.clientCertPair.crt.toString()).toBe("CRT");
    expect(tls.clientCertPair.key.toString()).toBe("KEY");
  });

  it("TLS without files trusts the system's CAs (Temporal Cloud)", () => {
    expect(temporalConnectionOptions(read({ TEMPORAL_TLS: "true" }).settings)).toEqual({ tls: {} });
  });

  it.each([
    [{ TEMPORAL_TLS_CERT_FILE: "/x" }, "TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE"],
    [{ TEMPORAL_API_KEY_FILE: "/nonexistent/key" }, "TEMPORAL_API_KEY_FILE"],
    [{ TEMPORAL_TLS: "false", TEMPORAL_API_KEY_FILE: file("k2", "k") }, "must not travel in clear"],
  ])("%j is refused, named", (env, named) => {
    expect(read(env as Record<string, string>).problems.join("\n")).toContain(named);
  });
});
