import type { ConnectionOptions } from "@nats-io/transport-node";
import type { EnvReader } from "./config.js";
import { checkReadable } from "./tls.js";

/**
 * TLS to NATS. nats.js reads no scheme from a server URL (`tls://` connects in plain text and
 * fails at the server's TLS requirement, or worse, does not), so the scheme is read here:
 * `tls://` servers in NATS_URL turn TLS on, verified against NATS_TLS_CA_FILE, else
 * TLS_CA_FILE (the CA of the workloads' own certificates), else the system's CAs. A cluster is
 * all TLS or none: a mix would send credentials in plain text to some servers.
 */
export function readNatsTls(reader: EnvReader, natsUrl: string): Pick<ConnectionOptions, "tls"> {
  const schemes = new Set(natsUrl.split(",").map((u) => u.trim().split(":", 1)[0]?.toLowerCase()));
  const ca = reader.string("NATS_TLS_CA_FILE", "");
  if (!schemes.has("tls")) {
    if (ca !== "") reader.problems.push("NATS_TLS_CA_FILE is set but NATS_URL names no tls:// server");
    return {};
  }
  if (schemes.size > 1) {
    reader.problems.push("NATS_URL: tls:// and nats:// servers mixed (a cluster is all TLS or none)");
    return {};
  }
  const caFile = ca !== "" ? ca : reader.string("TLS_CA_FILE", "");
  checkReadable(reader, ca !== "" ? "NATS_TLS_CA_FILE" : "TLS_CA_FILE", caFile);
  return { tls: caFile === "" ? {} : { caFile } };
}
