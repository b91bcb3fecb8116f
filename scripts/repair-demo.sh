#!/usr/bin/env bash
# Replicas that keep themselves, with separate `chorus node` processes on
# loopback driven only by the CLI, and default repair settings (rounds every
# 10 s, 1 s after a ring change) except a short --extra-grace (GRACE, 20 s)
# and --handoff-delay (HANDOFF, 10 s) so that new nodes get their share and
# extra copies go within the run. It publishes with r=3, crashes a holder (SIGKILL)
# and times the repair, crashes another, adds 4 nodes and times the
# rebalancing, raises r to 5 and publishes a dataset over 3 zones. Needs jq.
# Every process is stopped by its PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A pids=()
source scripts/lib.sh
chorus_setup repair
grace="${GRACE:-20s}"
handoff="${HANDOFF:-10s}"
base_port=$(port_base 200)
api() { echo "127.0.0.1:$((base_port + 100 + $1))"; }

start_node() { # index, bootstrap...
	local i="$1"; shift
	local boot=()
	for b in "$@"; do boot+=(--bootstrap "$b"); done
	"$bin" node --data "$work/node$i" --zone "z$((i % 3))" --extra-grace "$grace" --handoff-delay "$handoff" \
		--listen "/ip4/127.0.0.1/tcp/$((base_port + i))" --api "$(api "$i")" \
		"${boot[@]}" --log-level warn 2>"$work/node$i.log" &
	pids[$i]=$!
	wait_api "$(api "$i")" && return 0
	echo "node $i did not start:"; cat "$work/node$i.log"; exit 1
}

# wait_until SECONDS DESCRIPTION COMMAND...: polls COMMAND until it succeeds
# and prints how long it took.
wait_until() {
	local limit="$1" what="$2"; shift 2
	local start; start=$(date +%s.%N)
	while ! "$@" >/dev/null 2>&1; do
		if (( $(echo "$(date +%s.%N) - $start > $limit" | bc) )); then
			echo "FAILED: $what not reached within ${limit}s"; exit 1
		fi
		sleep 0.5
	done
	printf '%-58s %6.1f s\n' "$what" "$(echo "$(date +%s.%N) - $start" | bc)"
}

healthy() { # name, min live copies, [node]
	"$bin" status "$1" --json --api "$(api "${3:-0}")" |
		jq -e --argjson r "$2" 'all(.versions[]; .min_live_replicas >= $r and .under_replicated == 0 and .zone_violations == 0)'
}

total_blocks() {
	local sum=0
	for i in "${!pids[@]}"; do
		sum=$((sum + $("$bin" status --json --api "$(api "$i")" | jq .blocks)))
	done
	echo "$sum"
}

exact_copies() { # expected total copies
	[ "$(total_blocks)" -eq "$1" ] && healthy demo/data 3
}

start_node 0
first="$("$bin" id --api "$(api 0)" | grep /tcp/ | sed -n 1p)"
for i in 1 2 3 4 5 6 7; do start_node "$i" "$first"; done
sleep 3

mkdir -p "$work/data"
for i in $(seq 300); do head -c $((1024 + RANDOM % 4096)) /dev/urandom >"$work/data/f$i.bin"; done
head -c $((4 << 20)) /dev/urandom >"$work/data/big.bin"
"$bin" publish demo/data "$work/data" --replicas 3 --api "$(api 0)"
blocks=$("$bin" status demo/data --json --api "$(api 0)" | jq '.versions[0].blocks')
"$bin" status demo/data --api "$(api 0)"

for victim in 3 6; do
	held=$("$bin" status --json --api "$(api $victim)" | jq .blocks)
	kill -9 "${pids[$victim]}"; wait "${pids[$victim]}" 2>/dev/null || true; unset "pids[$victim]"
	wait_until 120 "crash of node $victim ($held blocks): back to 3 live copies" healthy demo/data 3 1
done

start=$(date +%s.%N)
for i in 8 9 10 11; do start_node "$i" "$first"; done
more_copies() { [ "$(total_blocks)" -gt "$1" ]; }
# Handoff first adds copies on the new nodes (the old holders keep theirs
# for the grace period), then the extra copies go.
wait_until 120 "4 nodes joined: handoff copies made" more_copies $((3 * blocks))
wait_until 120 "4 nodes joined: nothing under-replicated" healthy demo/data 3
wait_until 300 "4 nodes joined: extra copies removed (grace $grace)" exact_copies $((3 * blocks))
printf '%-58s %6.1f s\n' "rebalancing from the first join to exact placement" "$(echo "$(date +%s.%N) - $start" | bc)"
for i in "${!pids[@]}"; do
	printf '  node %-2s holds %s blocks\n' "$i" "$("$bin" status --json --api "$(api "$i")" | jq .blocks)"
done

"$bin" replicate demo/data --replicas 5 --api "$(api 1)"
wait_until 120 "replicate --replicas 5: 5 live copies" healthy demo/data 5

mkdir -p "$work/zoned"
for i in $(seq 100); do head -c $((1024 + RANDOM % 4096)) /dev/urandom >"$work/zoned/f$i.bin"; done
"$bin" publish demo/zoned "$work/zoned" --replicas 3 --zones z0,z1,z2 --api "$(api 2)"
wait_until 120 "publish --zones z0,z1,z2: a copy in each zone" healthy demo/zoned 3
"$bin" status demo/zoned --api "$(api 0)"
"$bin" status --api "$(api 0)" | tail -4
echo "repair demo: all checks passed"
