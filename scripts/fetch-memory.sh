#!/usr/bin/env bash
# Peak resident memory of a node while it fetches a large dataset from
# another node: two `chorus node` processes on loopback, SIZE_GIB of random
# data published into the first, fetched through the second; the fetching
# node's VmHWM is read from /proc. Cleans up after itself.
#
#   scripts/fetch-memory.sh [SIZE_GIB]
#
# READER_FLAGS adds flags to the fetching node, e.g.
# READER_FLAGS="--repair-bandwidth 1" to keep repair from handing it the
# keys it now owns while it fetches (so only the fetch is measured).
set -euo pipefail
cd "$(dirname "$0")/.."
size_gib="${1:-10}"
work="$(mktemp -d -t chorus-mem-XXXXXX)"
bin="$work/chorus"
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
go build -o "$bin" ./cmd/chorus
base=$((23000 + RANDOM % 20000))
"$bin" node --data "$work/a" --listen "/ip4/127.0.0.1/tcp/$base" --api "127.0.0.1:$((base + 1))" --log-level error 2>"$work/a.log" &
pids+=($!)
for _ in $(seq 100); do "$bin" id --api "127.0.0.1:$((base + 1))" >/dev/null 2>&1 && break; sleep 0.1; done
addr="$("$bin" id --api "127.0.0.1:$((base + 1))" | sed -n 2p)"
head -c $((size_gib << 30)) /dev/urandom >"$work/data.bin"
"$bin" publish mem/data "$work/data.bin" --replicas 1 --api "127.0.0.1:$((base + 1))"
rm "$work/data.bin"
"$bin" node ${READER_FLAGS:-} --data "$work/b" --listen "/ip4/127.0.0.1/tcp/$((base + 2))" --api "127.0.0.1:$((base + 3))" --bootstrap "$addr" --log-level error 2>"$work/b.log" &
reader=$!
pids+=($reader)
for _ in $(seq 100); do "$bin" id --api "127.0.0.1:$((base + 3))" >/dev/null 2>&1 && break; sleep 0.1; done
"$bin" fetch mem/data "$work/out.bin" --api "127.0.0.1:$((base + 3))"
echo "fetching node: $(grep -E 'VmHWM|VmRSS' /proc/$reader/status | tr -s ' ' | tr '\n' ' ')"
