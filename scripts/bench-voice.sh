#!/usr/bin/env bash
# The voice benchmark: the built-in speech engine (release build) on this machine, as a person
# recording a voice comment feels it. For comments of each length (Spanish espeak-ng speech,
# streamed in real time as WebM/Opus): time from the first second of speech to the first partial
# text, from stop to the final transcript, and the real-time factor of the same recording
# transcribed whole; the word error rate on the espeak set, Spanish and English; peak memory.
#   scripts/bench-voice.sh [SECONDS...]      (default 10 30 120)
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_test_tools
cargo build --release -p server --bin cupula --bin bench-voice
ensure_speech_model "$ROOT/target/release/cupula"
env -u CUPULA_TEST_DATABASE_URL CUPULA_SPEECH_MODEL="$SPEECH_MODEL" RUST_LOG=warn \
  target/release/bench-voice "$@"
