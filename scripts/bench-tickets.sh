#!/usr/bin/env bash
# The tickets benchmark on both engines: fills a fresh database with generated tickets and prints
# p50/p99 server times of the staff queue (first and deep page), a client's list, keyword search
# and a ticket page with 50 entries.   scripts/bench-tickets.sh [TICKETS] [ENTRIES_PER_TICKET] [RUNS]
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/postgres.sh"
cd "$ROOT"
# Memory as a database server is given it: a quarter of the machine's for shared buffers.
memory_mb=$(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo)
PG_SETTINGS="-c shared_buffers=$((memory_mb / 4))MB -c effective_cache_size=$((memory_mb * 2 / 3))MB -c work_mem=16MB"
bench_on_both_engines bench-tickets "$@"
