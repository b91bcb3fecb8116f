# Chorus tasks. CI does not use just; these mirror the README.

# Run the five-node demo in one process.
demo:
    go run ./cmd/chorus demo

# Run every test.
test:
    go test ./...

# gofmt, go vet and the race detector on the pure cores.
lint:
    test -z "$(gofmt -l $(git ls-files '*.go'))"
    go vet ./...
    go test -race -short ./overlay/... ./placement/... ./replica/...

# Small simulation: a stable ring of 1,000 nodes.
sim:
    go run ./cmd/chorus sim stable --nodes 1000 --succ 20 --lookups 10000 --seed 1 --out out/sim-stable-1k

# The simulator issue's target runs.
sim-stable:
    go run ./cmd/chorus sim stable --nodes 10000 --succ 27 --lookups 10000 --seed 1 --out out/sim-stable-10k

sim-massfail:
    go run ./cmd/chorus sim massfail --nodes 1000 --succ 20 --fail-fraction 0.5 --lookups 10000 --seed 1 --out out/sim-massfail

sim-churn:
    go run ./cmd/chorus sim churn --nodes 1000 --succ 20 --rate 0.4 --duration 1h --lookup-rate 1 --seed 1 --out out/sim-churn

# Issue 4's durability target: N=1,000, r=3, 30 virtual days, Pareto sessions
# (median 1 h), permanent failures with a mean lifetime of 30 days; offline
# spells exponential with a median of 10 min (restarts and reboots: nodes
# online about 88% of the time) and a 2 h repair delay, also for a lone copy
# (docs/simulations.md).
sim-durability:
    mkdir -p out && go build -o out/chorus ./cmd/chorus
    out/chorus sim durability --nodes 1000 --replicas 3 --duration 30d --session pareto:median=1h --downtime exp:median=10m --repair-delay 2h --last-copy-delay 2h --lifetime 30d --blocks 10000 --block-size 1MiB --repair-bandwidth 1MiB --seed 1 --out out/sim-durability

# The same ring with nodes offline half the time (--downtime defaults to
# the session distribution), over 5 days.
sim-durability-half:
    mkdir -p out && go build -o out/chorus ./cmd/chorus
    out/chorus sim durability --nodes 1000 --replicas 3 --duration 5d --session pareto:median=1h --repair-delay 2h --last-copy-delay 2h --lifetime 30d --blocks 10000 --block-size 1MiB --repair-bandwidth 1MiB --seed 1 --out out/sim-durability-half

sim-stable-100k:
    mkdir -p out && go build -o out/chorus ./cmd/chorus
    /usr/bin/time -v out/chorus sim stable --nodes 100000 --succ 34 --duration 10m --lookups 10000 --seed 1 --out out/sim-stable-100k

# Go benchmarks of the hot paths (chunking, hashing, block store, ring) and
# of the publish floor against the raw stream.
bench:
    go test -run '^$' -bench . -benchmem ./dataset/ ./node/ ./overlay/ ./bench/

# Five separate `chorus node` processes on loopback, driven by the CLI.
ring:
    ./scripts/ring-demo.sh

# Replicas that keep themselves: 8 then 12 `chorus node` processes, crashes,
# joins, replicate --replicas 5 and zones, with the repair times (needs jq).
repair:
    ./scripts/repair-demo.sh

# Real nodes behind shaping proxies at 5/50/150 ms RTT: which replica served the fetch.
wan-demo:
    ./scripts/wan-demo.sh 64

# The transfer benchmark against the raw libp2p stream (1 GiB by default).
bench-transfer:
    go run ./cmd/chorus bench --json
