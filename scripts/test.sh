#!/usr/bin/env bash
# Runs every check and test of the portal; exits non-zero on any failure.
#   formatting and lints (server and browser builds)
#   Rust unit and integration tests on SQLite, then the same tests on PostgreSQL
#   the attachment tests again on an S3-compatible store (moto), on both databases
#   voice comments with the built-in speech engine (its model prepared by scripts/lib.sh)
#   the browser tests (Playwright in Debian Chromium) on SQLite and on PostgreSQL
#   the size of the optimised wasm bundle (raw and brotli), built last
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/postgres.sh"
source "$(dirname "$0")/s3.sh"
cd "$ROOT"

ensure_rust_tools
ensure_test_tools

# cargo-leptos builds with this flag; giving it to every cargo command lets the tests reuse
# what the site build compiled instead of compiling everything a second time.
export RUSTFLAGS="--cfg erase_components"
# A clean build gains nothing from incremental caches, which would take gigabytes of disk.
export CARGO_INCREMENTAL=0
LOG="$(mktemp /tmp/cupula-test.XXXXXX.log)"
trap 'stop_postgres; stop_s3; rm -f "$LOG"' EXIT

# Runs a command, keeping its output for the final count.
run() { "$@" 2>&1 | tee -a "$LOG"; }

say "Formatting"
cargo fmt --all -- --check

say "Lints (server side)"
cargo clippy -p app -p server --features app/ssr --all-targets -- -D warnings
say "Lints (browser side)"
cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

say "Building the site (debug: the server and the wasm must be built alike to hydrate)"
cargo leptos build

# The built-in speech engine's model, for the voice tests (converted by the binary just built).
ensure_speech_model "$ROOT/target/debug/cupula"
export CUPULA_TEST_SPEECH_MODEL="$SPEECH_MODEL"

say "Rust tests on SQLite"
run cargo test -p app --features ssr
run cargo test -p server

say "Rust tests on PostgreSQL"
start_postgres
export CUPULA_TEST_DATABASE_URL="$PG_URL"
# The speech engine's accuracy tests use no database: they ran once above.
run cargo test -p app --features ssr -- --skip spanish_and_english \
  --skip a_recording_longer_than_a_window
run cargo test -p server
unset CUPULA_TEST_DATABASE_URL
drop_test_databases

say "Attachment tests on the S3-compatible store, on SQLite and on PostgreSQL"
start_s3
export CUPULA_TEST_S3_ENDPOINT="$S3_ENDPOINT"
run cargo test -p app --features ssr --test integration -- attachments:: previews:: voice::
run cargo test -p server --test integration -- files:: voice_stream::
export CUPULA_TEST_DATABASE_URL="$PG_URL"
run cargo test -p app --features ssr --test integration -- attachments:: previews:: voice::
# Several server processes share object storage and PostgreSQL: the crash test runs there too.
run cargo test -p server --test integration -- files:: voice_stream:: crash::
unset CUPULA_TEST_DATABASE_URL CUPULA_TEST_S3_ENDPOINT
drop_test_databases

say "Browser tests on SQLite"
(cd end2end && run npx playwright test)
say "Browser tests on PostgreSQL, files on the S3-compatible store"
E2E_DB="cupula_e2e_$$"
as_pg_user "$(pg_bin createdb)" -h 127.0.0.1 -p "$PG_PORT" -U cupula "$E2E_DB"
# With files in the S3-compatible store, as several server processes would share them.
(cd end2end && export CUPULA_E2E_DATABASE_URL="postgres://cupula@127.0.0.1:$PG_PORT/$E2E_DB" &&
  export CUPULA_E2E_S3_ENDPOINT="$S3_ENDPOINT" &&
  run npx playwright test --project=desktop --grep-invert @desktop-only)

say "Size of the optimised wasm bundle"
# Built exactly as `make run` builds it (without the debug-only flag): what browsers download.
env -u RUSTFLAGS cargo leptos build --release --frontend-only
"$ROOT/scripts/wasm-size.sh"

sum() { grep -oE "[0-9]+ $1" "$LOG" | awk '{ total += $1 } END { print total + 0 }'; }
passed=$(sum passed)
failed=$(sum failed)
echo
echo "summary: $passed passed, $failed failed"
