#!/usr/bin/env bash
# Three `chorus node` processes behind shaping proxies that give them
# round-trip times of 5, 50 and 150 ms, a fourth node as the reader, and a
# fetch that shows which replica served the bytes. Real processes, real
# libp2p over loopback; delay comes from `chorus shape` (this kernel has no
# netem). Every process is stopped by its PID and the directory removed.
#
#   scripts/wan-demo.sh [SIZE_MIB] [RATE]
#
# RATE (e.g. 20MB) also limits each replica's link, to show striping.
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib="${1:-64}"
rate="${2:-}"

pids=()
source scripts/lib.sh
chorus_setup wan

base=$(port_base 40)
delays=(2500us 25ms 75ms)
rate_flag=()
if [ -n "$rate" ]; then rate_flag=(--rate "$rate"); fi

started() { # api, log
	wait_api "$1" && return 0
	echo "node at $1 did not start:"; cat "$2"; exit 1
}

proxied=()
for i in 0 1 2; do
	node_port=$((base + i)); proxy_port=$((base + 10 + i)); api="127.0.0.1:$((base + 20 + i))"
	"$bin" shape --listen "127.0.0.1:$proxy_port" --to "127.0.0.1:$node_port" --delay "${delays[$i]}" "${rate_flag[@]}" 2>/dev/null &
	pids+=($!)
	boot=()
	if [ "$i" -gt 0 ]; then boot=(--bootstrap "${proxied[0]}"); fi
	"$bin" node --data "$work/n$i" --listen "/ip4/127.0.0.1/tcp/$node_port" \
		--announce "/ip4/127.0.0.1/tcp/$proxy_port" --api "$api" "${boot[@]}" --log-level error 2>"$work/n$i.log" &
	pids+=($!)
	started "$api" "$work/n$i.log"
	proxied+=("$("$bin" id --api "$api" | sed -n 2p)")
	echo "replica $i: ${proxied[$i]}  (one-way delay ${delays[$i]})"
done
sleep 2
head -c $((size_mib << 20)) /dev/urandom >"$work/data.bin"
"$bin" publish wan/data "$work/data.bin" --replicas 3 --api "127.0.0.1:$((base + 20))"

# The reader bootstraps from all three replicas, so it dials each through
# its proxy before any replica could dial it directly.
reader_api="127.0.0.1:$((base + 30))"
"$bin" node --data "$work/reader" --listen "/ip4/127.0.0.1/tcp/$((base + 3))" --api "$reader_api" \
	--bootstrap "${proxied[0]}" --bootstrap "${proxied[1]}" --bootstrap "${proxied[2]}" --log-level error 2>"$work/reader.log" &
pids+=($!)
started "$reader_api" "$work/reader.log"
echo "fetching through the reader ..."
"$bin" fetch wan/data "$work/out.bin" --json --api "$reader_api" | tee "$work/fetch.json"
cmp "$work/data.bin" "$work/out.bin" && echo "fetched file is identical"
reader_id="$("$bin" id --api "$reader_api" | sed -n 1p)"
python3 - "$work/fetch.json" "$reader_id" "${proxied[@]}" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))
names = {a.rsplit("/p2p/", 1)[1]: f"replica {i} (RTT {r})" for i, (a, r) in enumerate(zip(sys.argv[3:], ["5 ms", "50 ms", "150 ms"]))}
names[sys.argv[2]] = "the reader's own store (keys repair handed it on joining)"
total = sum(s["bytes"] for s in res["sources"]) or 1
for s in res["sources"]:
    print(f'{names.get(s["peer"], s["peer"])}: {s["bytes"]} bytes, {100 * s["bytes"] / total:.1f}%')
print(f'{res["bytes"] / res["seconds"] / 1e6:.1f} MB/s')
PY
