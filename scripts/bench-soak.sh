#!/usr/bin/env bash
# The soak benchmark on both engines: mixed reads and writes at a steady rate for minutes,
# printing errors, latency and the server's memory every 30 s.
#   scripts/bench-soak.sh [SECONDS=600] [RATE=200]
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/postgres.sh"
cd "$ROOT"
cargo build --release -p server --bin cupula
bench_on_both_engines bench-soak "$@"
