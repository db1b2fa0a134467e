#!/usr/bin/env bash
# Builds the portal (optimised) and serves it on http://127.0.0.1:3000 with a SQLite database
# and files under ./data (created on first start, with the demo observatory: its accounts are
# printed then, once).
# Settings: CUPULA_LISTEN, CUPULA_DATA_DIR, CUPULA_DATABASE_URL, CUPULA_BASE_URL (see README).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_rust_tools
say "Building the portal (release)"
cargo leptos build --release
say "Starting Cúpula"
export CUPULA_DATA_DIR="${CUPULA_DATA_DIR:-$ROOT/data}"
exec "$ROOT/target/release/cupula" serve --demo "$@"
