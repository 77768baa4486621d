#!/usr/bin/env bash
# Development certificates for mutual TLS, made with openssl alone (nothing is downloaded):
#   ca.pem, ca-key.pem                    a development CA (10 years)
#   <workload>.pem, <workload>-key.pem    brand, budget, campaign, clocks: CN=<workload>,
#                                         SANs localhost and 127.0.0.1, serverAuth + clientAuth
#                                         (one certificate serves and calls)
#   operator.pem, operator-key.pem        a human caller (grpcurl): CN=operator, clientAuth
#   nats.pem, nats-key.pem                the NATS servers (deploy/local/production.sh): CN=nats
# Written to .data/tls/ (git-ignored), or to the directory given as the first argument.
# Idempotent: what exists and verifies against ca.pem is kept; a missing or foreign certificate
# is (re)made. Keys are readable by their owner only.
#
#   bash scripts/dev-certs.sh [DIR]
set -euo pipefail

DIR="${1:-${TLS_DIR:-.data/tls}}"
WORKLOADS=(brand budget campaign clocks)
DAYS=825

command -v openssl >/dev/null || { echo "dev-certs: openssl is needed" >&2; exit 1; }
mkdir -p "$DIR"
umask 077
made=()

# ca: a self-signed CA (EC P-256), made only when ca.pem or its key is missing.
if [ ! -s "$DIR/ca.pem" ] || [ ! -s "$DIR/ca-key.pem" ]; then
  openssl ecparam -name prime256v1 -genkey -noout -out "$DIR/ca-key.pem" 2>/dev/null
  openssl req -x509 -new -key "$DIR/ca-key.pem" -sha256 -days 3650 -subj "/O=adbudget development/CN=adbudget development CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" -out "$DIR/ca.pem"
  made+=(ca.pem)
fi

# leaf NAME EXTENDED_KEY_USAGE [SUBJECT_ALT_NAMES]: a certificate signed by the CA, unless one
# exists that verifies against it.
leaf() {
  local name=$1 eku=$2 san=${3:-}
  local cert="$DIR/$name.pem" key="$DIR/$name-key.pem"
  if [ -s "$cert" ] && [ -s "$key" ] && openssl verify -CAfile "$DIR/ca.pem" "$cert" >/dev/null 2>&1; then
    return
  fi
  local ext csr
  ext=$(mktemp) csr=$(mktemp)
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature"
    echo "extendedKeyUsage=$eku"
    echo "subjectKeyIdentifier=hash"
    echo "authorityKeyIdentifier=keyid"
    if [ -n "$san" ]; then echo "subjectAltName=$san"; fi
  } >"$ext"
  openssl ecparam -name prime256v1 -genkey -noout -out "$key.tmp" 2>/dev/null
  openssl req -new -key "$key.tmp" -subj "/O=adbudget development/CN=$name" -out "$csr"
  openssl x509 -req -in "$csr" -CA "$DIR/ca.pem" -CAkey "$DIR/ca-key.pem" -CAcreateserial -sha256 -days "$DAYS" \
    -extfile "$ext" -out "$cert.tmp" 2>/dev/null
  mv "$key.tmp" "$key"
  mv "$cert.tmp" "$cert"
  chmod 644 "$cert"
  rm -f "$ext" "$csr"
  made+=("$name.pem")
}

for w in "${WORKLOADS[@]}"; do
  leaf "$w" "serverAuth,clientAuth" "DNS:localhost,IP:127.0.0.1"
done
leaf operator "clientAuth"
# The NATS servers of the production topology: served to clients, and both ends of their routes.
leaf nats "serverAuth,clientAuth" "DNS:localhost,IP:127.0.0.1"
chmod 644 "$DIR/ca.pem"
rm -f "$DIR/ca.srl"

if [ ${#made[@]} -gt 0 ]; then
  echo "dev-certs: made ${made[*]} in $DIR" >&2
else
  echo "dev-certs: all certificates present in $DIR" >&2
fi
cat <<EOF
CA:         $DIR/ca.pem
workloads:  $(for w in "${WORKLOADS[@]}"; do printf '%s ' "$DIR/$w.pem"; done)(keys: <name>-key.pem)
operator:   $DIR/operator.pem  $DIR/operator-key.pem
EOF
