import { describe, expect, it } from "vitest";
import { EnvReader } from "./config.js";
import { readNatsTls } from "./nats-tls.js";

const CA = new URL(import.meta.url).pathname; // any readable file stands for a CA file here

describe("readNatsTls", () => {
  it.each([
    ["nats://a:4222,nats://b:4222", {}, {}],
    ["tls://a:4222,tls://b:4222", {}, { tls: {} }],
    ["tls://a:4222", { TLS_CA_FILE: CA }, { tls: { caFile: CA } }],
    ["TLS://a:4222", { TLS_CA_FILE: "/x", NATS_TLS_CA_FILE: CA }, { tls: { caFile: CA } }],
  ])("%s with %j", (url, env, expected) => {
    const reader = new EnvReader(env);
    expect(readNatsTls(reader, url)).toEqual(expected);
    expect(reader.problems).toEqual([]);
  });

  it.each([
    ["tls://a:4222,nats://b:4222", {}, "tls:// and nats:// servers mixed"],
    ["nats://a:4222", { NATS_TLS_CA_FILE: CA }, "NATS_URL names no tls:// server"],
    [
      "tls://a:4222",
      { NATS_TLS_CA_FILE: "/nonexistent/ca.pem" },
      'NATS_TLS_CA_FILE="/nonexistent/ca.pem": cannot read',
    ],
  ])("refuses %s with %j", (url, env, problem) => {
    const reader = new EnvReader(env);
    readNatsTls(reader, url);
    expect(reader.problems.join("\n")).toContain(problem);
  });
});
