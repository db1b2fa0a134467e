#!/usr/bin/env bash
# The live-events benchmark on both engines: delivery delays from a posted message to every
# one of 1,000 / 5,000 / 10,000 open event streams, and what the streams cost the server.
#   scripts/bench-events.sh [EVENTS=20] [CONNECTIONS…=1000 5000 10000]
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/postgres.sh"
cd "$ROOT"
# 10,000 streams are 10,000 open sockets in the server and as many in the benchmark.
ulimit -n "$(ulimit -Hn)"
cargo build --release -p server --bin cupula
bench_on_both_engines bench-events "$@"
