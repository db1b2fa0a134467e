#!/usr/bin/env bash
# Builds the portal (optimised) and serves it on http://127.0.0.1:3000 with a SQLite database
# and files under ./data (created on first start, with the demo observatory: its accounts are
# printed then, once).
# Settings: CUPULA_LISTEN, CUPULA_DATA_DIR, CUPULA_DATABASE_URL, CUPULA_BASE_URL,
# CUPULA_SPEECH_MODEL (see README).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_rust_tools
say "Building the portal (release)"
cargo leptos build --release
# Voice comments are transcribed on this machine by default; CUPULA_SPEECH_MODEL=off turns that
# off (or names another model file, or CUPULA_TRANSCRIPTION_URL a speech server).
if [ -z "${CUPULA_SPEECH_MODEL:-}" ] && [ -z "${CUPULA_TRANSCRIPTION_URL:-}" ]; then
  ensure_speech_model "$ROOT/target/release/cupula"
  export CUPULA_SPEECH_MODEL="$SPEECH_MODEL"
fi
say "Starting Cúpula"
export CUPULA_DATA_DIR="${CUPULA_DATA_DIR:-$ROOT/data}"
exec "$ROOT/target/release/cupula" serve --demo "$@"
