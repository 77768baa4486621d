import { readFileSync } from "node:fs";
import type { TLSConfig } from "@temporalio/client";
import type { EnvReader } from "@adbudget/kit";

/**
 * How the worker and its client reach Temporal. The dev server of `npm start` and the tests has
 * no authentication; a production cluster (self-hosted with mTLS, or Temporal Cloud) takes:
 * TEMPORAL_TLS (false; true when a TLS file or an API key is set), TEMPORAL_TLS_CA_FILE (the
 * server's CA, PEM), TEMPORAL_TLS_CERT_FILE + TEMPORAL_TLS_KEY_FILE (the worker's client
 * certificate for mTLS), TEMPORAL_TLS_SERVER_NAME (SNI override), TEMPORAL_API_KEY_FILE (an API
 * key, as Temporal Cloud issues; a file, so it comes from a mounted Secret, not the env).
 */
export interface TemporalAuthSettings {
  tls: boolean;
  tlsCaFile: string;
  tlsCertFile: string;
  tlsKeyFile: string;
  tlsServerName: string;
  apiKeyFile: string;
}

export function readTemporalAuth(r: EnvReader): TemporalAuthSettings {
  const s: TemporalAuthSettings = {
    tls: false,
    tlsCaFile: r.string("TEMPORAL_TLS_CA_FILE", ""),
    tlsCertFile: r.string("TEMPORAL_TLS_CERT_FILE", ""),
    tlsKeyFile: r.string("TEMPORAL_TLS_KEY_FILE", ""),
    tlsServerName: r.string("TEMPORAL_TLS_SERVER_NAME", ""),
    apiKeyFile: r.string("TEMPORAL_API_KEY_FILE", ""),
  };
  const implied = s.tlsCaFile !== "" || s.tlsCertFile !== "" || s.apiKeyFile !== "";
  s.tls = r.bool("TEMPORAL_TLS", implied);
  if ((s.tlsCertFile === "") !== (s.tlsKeyFile === ""))
    r.problems.push("TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE must be set together");
  if (!s.tls && implied)
    r.problems.push("TEMPORAL_TLS=false with TLS files or an API key: an API key must not travel in clear");
  for (const [name, file] of [
    ["TEMPORAL_TLS_CA_FILE", s.tlsCaFile],
    ["TEMPORAL_TLS_CERT_FILE", s.tlsCertFile],
    ["TEMPORAL_TLS_KEY_FILE", s.tlsKeyFile],
    ["TEMPORAL_API_KEY_FILE", s.apiKeyFile],
  ] as const) {
    if (file === "") continue;
    try {
      readFileSync(file);
    } catch (err) {
      r.problems.push(
        `${name}=${JSON.stringify(file)}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      );
    }
  }
  return s;
}

/** The `tls` and `apiKey` options of Connection.connect and NativeConnection.connect. */
export function temporalConnectionOptions(s: TemporalAuthSettings): { tls?: TLSConfig | boolean; apiKey?: string } {
  if (!s.tls) return {};
  const tls: TLSConfig = {};
  if (s.tlsServerName !== "") tls.serverNameOverride = s.tlsServerName;
  if (s.tlsCaFile !== "") tls.serverRootCACertificate = readFileSync(s.tlsCaFile);
  if (s.tlsCertFile !== "") tls.clientCertPair = { crt: readFileSync(s.tlsCertFile), key: readFileSync(s.tlsKeyFile) };
  return { tls, ...(s.apiKeyFile !== "" ? { apiKey: readFileSync(s.apiKeyFile, "utf8").trim() } : {}) };
}
