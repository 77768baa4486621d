import { nkeys } from "@nats-io/transport-node";
import type { NatsPermissions } from "@adbudget/kit";

/**
 * Decentralized NATS auth (operator mode) for tests, without nsc: an operator, a system account
 * and one application account with JetStream, as JWTs signed with fresh nkeys, and `.creds` files
 * (user JWT + seed, what NATS_CREDS_FILE points at) for users with given permissions. The JWTs
 * are the minimal v2 claims nats-server checks.
 */
export interface NatsOperator {
  /** The server's configuration: trusted operator, system account, the accounts preloaded. */
  config: string;
  /** A `.creds` file's text for a user of the application account with `permissions`. */
  creds(name: string, permissions: NatsPermissions): string;
}

type KeyPair = ReturnType<typeof nkeys.createUser>;

const b64url = (x: string | Uint8Array) => Buffer.from(x).toString("base64url");

function jwt(issuer: KeyPair, subject: KeyPair, name: string, nats: Record<string, unknown>): string {
  const header = b64url(JSON.stringify({ typ: "JWT", alg: "ed25519-nkey" }));
  const claims = b64url(
    JSON.stringify({
      jti: b64url(nkeys.createUser().getPublicKey()),
      iat: Math.floor(Date.now() / 1000),
      iss: issuer.getPublicKey(),
      name,
      sub: subject.getPublicKey(),
      nats: { ...nats, version: 2 },
    }),
  );
  return `${header}.${claims}.${b64url(issuer.sign(new TextEncoder().encode(`${header}.${claims}`)))}`;
}

export function natsOperator(): NatsOperator {
  const operator = nkeys.createOperator();
  const system = nkeys.createAccount();
  const app = nkeys.createAccount();
  const unlimited = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };
  const accounts = {
    [system.getPublicKey()]: jwt(operator, system, "SYS", { type: "account", limits: unlimited }),
    [app.getPublicKey()]: jwt(operator, app, "ADBUDGET", {
      type: "account",
      limits: { ...unlimited, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 },
    }),
  };
  const config = [
    `operator: ${jwt(operator, operator, "test-operator", { type: "operator" })}`,
    `system_account: ${system.getPublicKey()}`,
    "resolver: MEMORY",
    `resolver_preload: {\n${Object.entries(accounts)
      .map(([k, v]) => `  ${k}: ${v}`)
      .join("\n")}\n}`,
    "",
  ].join("\n");
  return {
    config,
    creds(name, permissions) {
      const user = nkeys.createUser();
      const token = jwt(app, user, name, {
        type: "user",
        pub: { allow: permissions.publish },
        sub: { allow: permissions.subscribe },
        subs: -1,
        data: -1,
        payload: -1,
      });
      return (
        `-----BEGIN NATS USER JWT-----\n${token}\n------END NATS USER JWT------\n\n` +
        `-----BEGIN USER NKEY SEED-----\n${new TextDecoder().decode(user.getSeed())}\n------END USER NKEY SEED------\n`
      );
    },
  };
}
