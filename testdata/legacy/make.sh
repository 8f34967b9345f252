#!/usr/bin/env bash
# make.sh — regenerate oversized.tar.gz: a data directory written by the
# Exhibit of commit 7115bd0, before records were limited at signing, that
# holds records over the 1 MiB record limit. It is the fixture of
# TestRepairLegacyOversized (cmd/exhibit/cli/safety_test.go) and of
# chain/ledger TestRepairSupersedes.
#
# The old binary receives three HL7 ORU^R01 messages over MLLP on loopback:
#   1. an ordinary result (GHB 42 mg/L);
#   2. a result with an ED value: a base64 "PDF" of about 800 KB, which the
#      old code signed into a record of about 1.09 MB;
#   3. a message with 28,000 OBX segments, which made a record of several MB.
# Each was acknowledged AA; from then on the old code's own readers refused
# the directory ("malformed record: … exceeds the 1048576-byte limit").
# The payloads are repetitive, so the archive stays small.
#
# usage: make.sh (from anywhere; needs git, go, bash's /dev/tcp, tar)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(git -C "$here" rev-parse --show-toplevel)
commit=7115bd0
work=$(mktemp -d)
trap 'kill $rcv 2>/dev/null || true; git -C "$repo" worktree remove --force "$work/src" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
rcv=
git -C "$repo" worktree add --detach "$work/src" "$commit" >/dev/null
(cd "$work/src" && go build -o "$work/exhibit" ./cmd/exhibit)
bin=$work/exhibit
data=$work/data
"$bin" init --data "$data" --producer "Lab Agent" --initials LB >/dev/null
port=$((20000 + RANDOM % 20000))
"$bin" lab receive --data "$data" --protocol hl7 --transport tcp --listen "127.0.0.1:$port" --dialect mllp \
	--case CASE-2026-0042 --log-level error &
rcv=$!
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

# send MSG: one MLLP frame; wait for the acknowledgement and print MSA-1.
send() {
	exec 3<>"/dev/tcp/127.0.0.1/$port"
	printf '\x0b%s\x1c\x0d' "$1" >&3
	local ack
	IFS= read -r -d $'\x1c' ack <&3
	exec 3<&-
	printf '%s\n' "$ack" | tr '\r' '\n' | grep '^MSA' | cut -d'|' -f2
}
msh() { printf 'MSH|^~\\&|TOXSIM|LAB|EXHIBIT|FORCE|20261127101500||ORU^R01|%s|P|2.5.1\r' "$1"; }
pid='PID|1||CASE-2026-0042\r'
obr='OBR|1||S2611-0001|TOX^Tox screen\r'

ack=$(send "$(msh MSG1)$(printf "$pid$obr")OBX|1|NM|GHB^GHB||42.0|mg/L|0-10|H|||F"$'\r')
echo "ordinary result: $ack"

pdf=$(printf 'JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFI+PgpzdHJlYW0K%.0s' $(seq 1 12500))
ack=$(send "$(msh MSG2)$(printf "$pid$obr")OBX|1|ED|REPORT^Chromatogram||^application^pdf^Base64^$pdf||||||F"$'\r')
echo "800 KB ED value: $ack"

many=$(for i in $(seq 1 28000); do printf 'OBX|%d|NM|GHB^GHB||%d.0|mg/L||N|||F\r' "$i" "$((i % 97))"; done)
ack=$(send "$(msh MSG3)$(printf "$pid$obr")$many")
echo "28,000 OBX: $ack"

kill -TERM "$rcv"
wait "$rcv" || true
rcv=
tar -C "$work" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -czf "$here/oversized.tar.gz" data
ls -l "$here/oversized.tar.gz"
