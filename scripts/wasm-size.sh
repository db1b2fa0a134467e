#!/usr/bin/env bash
# Prints the size of the built wasm bundle, raw and brotli-compressed (what browsers download).
# Run after a release front-end build (`cargo leptos build --release`); figures go in
# docs/ARCHITECTURE.md.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
for file in "$ROOT"/target/site/pkg/cupula.wasm "$ROOT"/target/site/pkg/cupula.js "$ROOT"/target/site/pkg/cupula.css; do
  raw=$(stat -c %s "$file")
  compressed=$(brotli -c -q 11 "$file" | wc -c)
  awk -v name="$(basename "$file")" -v raw="$raw" -v br="$compressed" 'BEGIN {
    printf "%-12s raw %9d bytes (%7.1f KiB)   brotli %8d bytes (%6.1f KiB)\n", name, raw, raw / 1024, br, br / 1024
  }'
done
