/**
 * Transport security: TLS for the server (optionally mutual: client certificates verified
 * against TLS_CA_FILE) and for outgoing calls (the CA that signs servers, and this workload's
 * own certificate for servers that ask for one).
 *
 * One workload certificate serves both directions by default: TLS_CLIENT_CERT_FILE and
 * TLS_CLIENT_KEY_FILE default to TLS_CERT_FILE and TLS_KEY_FILE, so `scripts/dev-certs.sh`'s
 * `<workload>.pem` (serverAuth and clientAuth, SANs localhost and 127.0.0.1) is all a service
 * needs.
 */
import { accessSync, constants, readFileSync } from "node:fs";
import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { SecureContextOptions, TLSSocket, TlsOptions } from "node:tls";
import { createContextValues, type ContextValues } from "@connectrpc/connect";
import type { EnvReader } from "./config.js";
import { kPeerCertificate, type PeerCertificate } from "./request-context.js";

/**
 * Client certificates on the server: not asked for (`none`), asked for and verified when sent
 * (`request`: a caller without one still connects, and has no peer identity), or required
 * (`require`: the handshake of a caller without a certificate signed by TLS_CA_FILE fails).
 */
export type TlsClientAuth = "none" | "request" | "require";
export const TLS_CLIENT_AUTH_MODES: readonly TlsClientAuth[] = ["none", "request", "require"];

/** The server's TLS: PEM files (what ServerOptions.tls takes). */
export interface ServerTls {
  certFile: string;
  keyFile: string;
  /** PEM bundle of the CAs that sign client certificates (needed unless clientAuth is none). */
  caFile?: string;
  /** Default `none`. */
  clientAuth?: TlsClientAuth;
}

/** The TLS settings of outgoing calls (fields of ServiceConfig and WorkerConfig). */
export interface ClientTlsSettings {
  /** PEM bundle of the CAs that sign the servers' certificates; "" = the system's roots. */
  readonly tlsCaFile: string;
  /** The certificate and key this workload presents to servers that ask; "" = none. */
  readonly tlsClientCertFile: string;
  readonly tlsClientKeyFile: string;
}

/**
 * Reads TLS_CA_FILE and the pair TLS_CLIENT_CERT_FILE / TLS_CLIENT_KEY_FILE (when neither is
 * set, the pair TLS_CERT_FILE / TLS_KEY_FILE), and records as problems a certificate without its
 * key and a file that cannot be read (naming the variable the path came from).
 */
export function readClientTlsSettings(reader: EnvReader): ClientTlsSettings {
  const own = reader.string("TLS_CLIENT_CERT_FILE", "") !== "" || reader.string("TLS_CLIENT_KEY_FILE", "") !== "";
  const [certVar, keyVar] = own ? ["TLS_CLIENT_CERT_FILE", "TLS_CLIENT_KEY_FILE"] : ["TLS_CERT_FILE", "TLS_KEY_FILE"];
  const settings: ClientTlsSettings = {
    tlsCaFile: reader.string("TLS_CA_FILE", ""),
    tlsClientCertFile: reader.string(certVar, ""),
    tlsClientKeyFile: reader.string(keyVar, ""),
  };
  if ((settings.tlsClientCertFile === "") !== (settings.tlsClientKeyFile === "")) {
    addProblemOnce(reader, `${certVar} and ${keyVar} must be set together`);
  }
  checkReadable(reader, "TLS_CA_FILE", settings.tlsCaFile);
  checkReadable(reader, certVar, settings.tlsClientCertFile);
  checkReadable(reader, keyVar, settings.tlsClientKeyFile);
  return settings;
}

/** Records a problem when `path` is set and cannot be read (once per variable and path). */
export function checkReadable(reader: EnvReader, variable: string, path: string): void {
  if (path === "") return;
  try {
    accessSync(path, constants.R_OK);
  } catch (err) {
    addProblemOnce(
      reader,
      `${variable}=${JSON.stringify(path)}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? "error"})`,
    );
  }
}

/** Records `problem` unless it is listed already (the server's and the calls' settings share files). */
export function addProblemOnce(reader: EnvReader, problem: string): void {
  if (!reader.problems.includes(problem)) reader.problems.push(problem);
}

/** The PEM contents of the settings: `ca`, `cert`, `key` as Node's TLS clients take them. */
export function clientTlsOptions(settings: ClientTlsSettings): Pick<SecureContextOptions, "ca" | "cert" | "key"> {
  return {
    ...(settings.tlsCaFile ? { ca: readFileSync(settings.tlsCaFile) } : {}),
    ...(settings.tlsClientCertFile
      ? { cert: readFileSync(settings.tlsClientCertFile), key: readFileSync(settings.tlsClientKeyFile) }
      : {}),
  };
}

/**
 * What `createGrpcTransport` needs for `url`: for https, `nodeOptions` with the CA and the
 * client certificate of `settings` (passed to `http2.connect`); nothing for http. Spread it
 * into the transport options: `createGrpcTransport({ baseUrl, interceptors, ...clientTls(baseUrl, settings) })`.
 */
export function clientTls(
  url: string,
  settings: ClientTlsSettings,
): { nodeOptions?: http2.SecureClientSessionOptions } {
  if (new URL(url).protocol !== "https:") return {};
  return { nodeOptions: clientTlsOptions(settings) };
}

/** The options of `http2.createSecureServer` for `tls` (without allowHTTP1). */
export function serverTlsOptions(tls: ServerTls): TlsOptions {
  const clientAuth = tls.clientAuth ?? "none";
  const base = { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) };
  if (clientAuth === "none") return base;
  if (!tls.caFile) throw new Error(`TLS client auth "${clientAuth}" needs a CA file`);
  return { ...base, ca: readFileSync(tls.caFile), requestCert: true, rejectUnauthorized: clientAuth === "require" };
}

/** The verified peer of each connection (HTTP/2 session or HTTP/1.1 socket), looked up once. */
const peers = new WeakMap<object, PeerCertificate | null>();

/**
 * The client certificate of the request's connection, when one was sent and verified against
 * the server's CA (with `request`, an unverified certificate gives undefined).
 */
export function verifiedPeer(req: http.IncomingMessage | http2.Http2ServerRequest): PeerCertificate | undefined {
  const session = "stream" in req ? req.stream.session : undefined;
  const owner: object = session ?? req.socket;
  let peer = peers.get(owner);
  if (peer === undefined) {
    peer = null;
    // An HTTP/2 session's socket is a proxy forwarding these to the TLS socket.
    const socket = (session?.socket ?? req.socket) as Partial<TLSSocket> | undefined;
    if (socket?.authorized === true && typeof socket.getPeerCertificate === "function") {
      const cert = socket.getPeerCertificate();
      if (cert?.fingerprint256) {
        const cn = cert.subject?.CN;
        peer = { cn: Array.isArray(cn) ? cn[0] : cn, fingerprint256: cert.fingerprint256 };
      }
    }
    peers.set(owner, peer);
  }
  return peer ?? undefined;
}

/** The context values of a call on a TLS server: `kPeerCertificate` when the peer was verified. */
export function peerContextValues(req: http.IncomingMessage | http2.Http2ServerRequest): ContextValues {
  const values = createContextValues();
  const peer = verifiedPeer(req);
  if (peer !== undefined) values.set(kPeerCertificate, peer);
  return values;
}
