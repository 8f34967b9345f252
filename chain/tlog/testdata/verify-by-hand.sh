#!/bin/bash
# Verify an Exhibit tlog-proof by hand with bash, awk, xxd, sha256sum, base64
# and openssl: no Exhibit code. See docs/log.md, "Verifying by hand".
# usage: verify-by-hand.sh PROOF-FILE RECORD-HASH-HEX VERIFIER-KEY
set -euo pipefail
proof=$1 record=$2 vkey=$3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

h() { xxd -r -p | sha256sum | cut -c1-64; }   # SHA-256 of hex input, as hex
b64hex() { base64 -d | xxd -p -c 256; }       # base64 to hex

# 1. Split the proof: index, audit path, then the checkpoint after the blank line.
[ "$(head -1 "$proof")" = "c2sp.org/tlog-proof@v1" ] || { echo "not a tlog-proof"; exit 1; }
[ "$(sed -n 2p "$proof" | cut -c1-6)" = "index " ] || { echo "line 2 is not \"index N\" (an extra line is refused)"; exit 1; }
index=$(sed -n '2s/^index //p' "$proof")
hashes=$(awk 'NR > 2 && /^$/ {exit} NR > 2 {print}' "$proof")
awk 'f; /^$/ && !f {f = 1}' "$proof" > "$tmp/note"
awk '/^$/ {exit} {print}' "$tmp/note" > "$tmp/body"    # origin, size, root
origin=$(sed -n 1p "$tmp/body") size=$(sed -n 2p "$tmp/body")
root=$(sed -n 3p "$tmp/body" | b64hex)

# 2. The log's Ed25519 signature over the body (signed-note format).
name=${vkey%%+*} key=$(echo "${vkey##*+}" | b64hex)   # key = 01 || public key
[ "$name" = "$origin" ] || { echo "key is for $name, checkpoint is from $origin"; exit 1; }
[ "${key:0:2}" = 01 ] || { echo "not an Ed25519 key"; exit 1; }
keyid=$( (printf '%s\n' "$name"; echo -n "$key" | xxd -r -p) | sha256sum | cut -c1-8)
sig=$(grep "^— $origin " "$tmp/note" | cut -d' ' -f3 | b64hex | grep "^$keyid" | head -1 || true)
[ -n "$sig" ] || { echo "no signature by key ID $keyid"; exit 1; }
echo -n "302a300506032b6570032100${key:2}" | xxd -r -p | openssl pkey -pubin -inform DER -out "$tmp/pub.pem"
echo -n "${sig:8}" | xxd -r -p > "$tmp/sig"
openssl pkeyutl -verify -pubin -inkey "$tmp/pub.pem" -rawin -in "$tmp/body" -sigfile "$tmp/sig" > /dev/null ||
	{ echo "bad signature"; exit 1; }

# 3. The audit path, as in RFC 9162 section 2.1.3.2.
r=$(echo "00$record" | h)                               # leaf hash
fn=$index sn=$((size - 1))
[ "$fn" -le "$sn" ] || { echo "index $index is not below size $size"; exit 1; }
for p in $hashes; do
	p=$(echo "$p" | b64hex)
	[ "$sn" -ne 0 ] || { echo "proof too long"; exit 1; }
	if [ $((fn & 1)) -eq 1 ] || [ "$fn" -eq "$sn" ]; then
		r=$(echo "01$p$r" | h)
		while [ $((fn & 1)) -eq 0 ] && [ "$fn" -ne 0 ]; do fn=$((fn >> 1)) sn=$((sn >> 1)); done
	else
		r=$(echo "01$r$p" | h)
	fi
	fn=$((fn >> 1)) sn=$((sn >> 1))
done
[ "$sn" -eq 0 ] || { echo "proof too short"; exit 1; }
[ "$r" = "$root" ] || { echo "root mismatch: computed $r, checkpoint has $root"; exit 1; }
echo "OK: record $record is leaf $index of $origin at size $size"
