#!/usr/bin/env bash
# The crash test at length, on SQLite and on PostgreSQL: requests, messages and status changes
# over HTTP while the server is killed with SIGKILL at random moments and started again, then
# every write checked (see server/tests/integration/crash_writes.rs). The test command runs it
# with 3 kills.
#   scripts/crash-test.sh [KILLS=20]
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/postgres.sh"
cd "$ROOT"
export RUSTFLAGS="--cfg erase_components" CARGO_INCREMENTAL=0
export CUPULA_CRASH_TRIALS="${1:-20}"
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_install postgresql
trap stop_postgres EXIT
run_crash_test() {
  cargo test -p server --test integration -- crash_writes:: --nocapture 2>&1 |
    grep -E "^crash test|test result|panicked|problems?|is there"
}
say "SQLite"
env -u CUPULA_TEST_DATABASE_URL bash -c "$(declare -f run_crash_test); run_crash_test"
say "PostgreSQL"
start_postgres
CUPULA_TEST_DATABASE_URL="$PG_URL" bash -c "$(declare -f run_crash_test); run_crash_test"
