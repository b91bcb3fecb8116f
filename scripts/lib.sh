# Shared by the scripts in this folder; source it from the repository root
# after declaring `pids` (an array, indexed or associative).
#
#   chorus_setup NAME  makes $work (a temporary directory) and $bin (chorus,
#                      built there), and stops every process in pids by its
#                      PID and removes $work on exit.
#   wait_api ADDR      waits up to 10 s for a node's API at ADDR.
#   port_base SPAN     prints a random first port for SPAN consecutive ports,
#                      all below the kernel's ephemeral range, so that no
#                      outgoing connection already holds one of them.

chorus_cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$work"
}

chorus_setup() {
	work="$(mktemp -d -t "chorus-$1-XXXXXX")"
	bin="$work/chorus"
	trap chorus_cleanup EXIT
	go build -o "$bin" ./cmd/chorus
}

wait_api() {
	for _ in $(seq 100); do
		"$bin" id --api "$1" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

port_base() {
	local low=32768
	if [ -r /proc/sys/net/ipv4/ip_local_port_range ]; then
		read -r low _ </proc/sys/net/ipv4/ip_local_port_range
	fi
	local room=$((low - 10000 - $1))
	if [ "$room" -lt 1000 ]; then
		echo "the ephemeral port range starts at $low: no room below it for $1 ports" >&2
		return 1
	fi
	echo $((10000 + (RANDOM * 32768 + RANDOM) % room))
}
