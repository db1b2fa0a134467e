#!/usr/bin/env bash
# The tickets benchmark on both engines: fills a fresh database with generated tickets and prints
# p50/p99 server times of the staff queue (first and deep page), a client's list, keyword search
# and a ticket page with 50 entries.   scripts/bench-tickets.sh [TICKETS] [ENTRIES_PER_TICKET] [RUNS]
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/postgres.sh"
cd "$ROOT"
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_install postgresql
trap stop_postgres EXIT

cargo build --release -p server --bin bench-tickets
say "SQLite"
env -u CUPULA_TEST_DATABASE_URL target/release/bench-tickets "$@"
say "PostgreSQL"
start_postgres
CUPULA_TEST_DATABASE_URL="$PG_URL" target/release/bench-tickets "$@"
