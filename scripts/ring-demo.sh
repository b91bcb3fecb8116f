#!/usr/bin/env bash
# Five separate `chorus node` processes on loopback, driven only by the CLI:
# publish a directory, stop two nodes, fetch it through another node and
# compare. Cleans up after itself (every process is stopped by its PID).
set -euo pipefail
cd "$(dirname "$0")/.."

pids=()
source scripts/lib.sh
chorus_setup ring

base_port=$(port_base 200)
start_node() { # index, bootstrap...
	local i="$1"; shift
	local boot=()
	for b in "$@"; do boot+=(--bootstrap "$b"); done
	"$bin" node --data "$work/node$i" \
		--listen "/ip4/127.0.0.1/tcp/$((base_port + i))" \
		--api "127.0.0.1:$((base_port + 100 + i))" \
		"${boot[@]}" --log-level warn 2>"$work/node$i.log" &
	pids+=($!)
	wait_api "127.0.0.1:$((base_port + 100 + i))" && return 0
	echo "node $i did not start:"; cat "$work/node$i.log"; exit 1
}

start_node 0
first="$("$bin" id --api "127.0.0.1:$((base_port + 100))" | grep /tcp/ | sed -n 1p)"
echo "node 0 is $first"
for i in 1 2 3 4; do start_node "$i" "$first"; done
sleep 2
api() { echo "127.0.0.1:$((base_port + 100 + $1))"; }

mkdir -p "$work/data/sub/deeper"
head -c $((5 << 20)) /dev/urandom >"$work/data/big.bin"
for i in $(seq 50); do echo "file $i" >"$work/data/sub/deeper/f$i.txt"; done
: >"$work/data/empty"

"$bin" publish demo/files "$work/data" --replicas 3 --api "$(api 0)"
"$bin" status --api "$(api 2)"
echo "stopping nodes 1 and 2"
kill "${pids[1]}" "${pids[2]}"
wait "${pids[1]}" "${pids[2]}" || true
sleep 2
"$bin" fetch demo/files "$work/out" --api "$(api 4)"
diff -r "$work/data" "$work/out" && echo "fetched tree is identical"
"$bin" ls --api "$(api 3)"
"$bin" versions demo/files --api "$(api 3)"
