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
pids=()
source scripts/lib.sh
chorus_setup mem
base=$(port_base 4)
"$bin" node --data "$work/a" --listen "/ip4/127.0.0.1/tcp/$base" --api "127.0.0.1:$((base + 1))" --log-level error 2>"$work/a.log" &
pids+=($!)
wait_api "127.0.0.1:$((base + 1))"
addr="$("$bin" id --api "127.0.0.1:$((base + 1))" | sed -n 2p)"
head -c $((size_gib << 30)) /dev/urandom >"$work/data.bin"
"$bin" publish mem/data "$work/data.bin" --replicas 1 --api "127.0.0.1:$((base + 1))"
rm "$work/data.bin"
"$bin" node ${READER_FLAGS:-} --data "$work/b" --listen "/ip4/127.0.0.1/tcp/$((base + 2))" --api "127.0.0.1:$((base + 3))" --bootstrap "$addr" --log-level error 2>"$work/b.log" &
reader=$!
pids+=($reader)
wait_api "127.0.0.1:$((base + 3))"
"$bin" fetch mem/data "$work/out.bin" --api "127.0.0.1:$((base + 3))"
echo "fetching node: $(grep -E 'VmHWM|VmRSS' /proc/$reader/status | tr -s ' ' | tr '\n' ' ')"
