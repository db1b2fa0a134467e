#!/usr/bin/env bash
# The uploads benchmark, over loopback against a release server on a fresh SQLite data dir, as a
# tus client (curl) uploads:
#   one large upload: MB/s and how much the server's resident memory grew (peak)
#   PARALLEL uploads of EACH_MIB at once: MB/s together, and the slowest
#   a 12-megapixel JPEG: time from its last byte to its first preview (in the service)
#   scripts/bench-uploads.sh [BIG_MIB=2048] [PARALLEL=20] [EACH_MIB=100]
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/postgres.sh"
cd "$ROOT"
BIG_MIB="${1:-2048}"
PARALLEL="${2:-20}"
EACH_MIB="${3:-100}"

cargo build --release -p server --bin cupula
WORK="$(mktemp -d /tmp/cupula-bench-uploads.XXXXXX)"
SERVER_PID=""
trap '[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$WORK"' EXIT

PORT="$(free_port)"
BASE="http://127.0.0.1:$PORT"
GIB=$((1024 * 1024 * 1024))
CUPULA_DATA_DIR="$WORK/data" CUPULA_LISTEN="127.0.0.1:$PORT" RUST_LOG=warn \
  CUPULA_MAX_FILE_BYTES=$((4 * GIB)) CUPULA_MAX_REQUEST_FILES_BYTES=$((8 * GIB)) \
  CUPULA_ORGANIZATION_QUOTA_BYTES=$((64 * GIB)) \
  target/release/cupula serve --demo >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
for _ in $(seq 1 300); do
  grep -q "is listening" "$WORK/server.out" 2>/dev/null && break
  sleep 0.1
done
grep -q "is listening" "$WORK/server.out" || { cat "$WORK/server.err"; exit 1; }

read -r EMAIL PASSWORD < <(awk '$1 == "client" { print $2, $3 }' "$WORK/server.out")
JAR="$WORK/cookies"
BROWSER=(-b "$JAR" -H "Origin: $BASE" -H "Sec-Fetch-Site: same-origin")
curl -sf -c "$JAR" -H "Origin: $BASE" --data-urlencode "email=$EMAIL" \
  --data-urlencode "password=$PASSWORD" "$BASE/api/sign_in" >/dev/null

header_of() { awk -v name="$1" 'tolower($1) == tolower(name) ":" { print $2 }' | tr -d '\r'; }

# Uploads FILE as a tus client (one POST, one streamed PATCH); prints the attachment id.
upload() {
  local file="$1" size location
  size="$(stat -c %s "$file")"
  location="$(curl -sf -D - -o /dev/null "${BROWSER[@]}" -X POST \
    -H "Tus-Resumable: 1.0.0" -H "Upload-Length: $size" \
    -H "Upload-Metadata: filename $(basename "$file" | tr -d '\n' | base64 -w0)" \
    "$BASE/api/v1/uploads" | header_of location)"
  curl -sf -D - -o /dev/null "${BROWSER[@]}" -X PATCH -T "$file" -H "Expect:" \
    -H "Tus-Resumable: 1.0.0" -H "Upload-Offset: 0" \
    -H "Content-Type: application/offset+octet-stream" \
    "$BASE$location" | header_of cupula-attachment-id
}

# A file of MIB mebibytes that the portal accepts: random bytes after a PDF header (too large
# for a preview, so only the upload is measured).
make_file() {
  { printf '%%PDF-1.4\n'; head -c $(($2 * 1024 * 1024 - 9)) /dev/urandom; } >"$1"
}

kib_of() { awk -v key="$1:" '$1 == key { print $2 }' "/proc/$SERVER_PID/status"; }
now() { date +%s.%N; }
mb_per_s() { awk -v bytes="$1" -v s="$2" 'BEGIN { printf "%.0f", bytes / 1e6 / s }'; }

say "One upload of $BIG_MIB MiB"
make_file "$WORK/big.pdf" "$BIG_MIB"
rss_before="$(kib_of VmRSS)"
start="$(now)"
id="$(upload "$WORK/big.pdf")"
seconds="$(awk -v a="$start" -v b="$(now)" 'BEGIN { print b - a }')"
[ -n "$id" ] || { echo "the upload failed"; cat "$WORK/server.err"; exit 1; }
peak="$(kib_of VmHWM)"
echo "  $(mb_per_s $((BIG_MIB * 1024 * 1024)) "$seconds") MB/s (${seconds%.*} s);" \
  "server memory: ${rss_before} KiB before, peak ${peak} KiB, growth $(((peak - rss_before) / 1024)) MiB"
rm -f "$WORK/big.pdf"

say "$PARALLEL uploads of $EACH_MIB MiB at once"
for i in $(seq 1 "$PARALLEL"); do
  make_file "$WORK/each-$i.pdf" "$EACH_MIB"
done
rss_before="$(kib_of VmRSS)"
start="$(now)"
uploaders=()
for i in $(seq 1 "$PARALLEL"); do
  ( s="$(now)"; got="$(upload "$WORK/each-$i.pdf")"
    echo "$got $(awk -v a="$s" -v b="$(now)" 'BEGIN { print b - a }')" >"$WORK/each-$i.out" ) &
  uploaders+=($!)
done
wait "${uploaders[@]}"
seconds="$(awk -v a="$start" -v b="$(now)" 'BEGIN { print b - a }')"
done_count="$(awk 'NF == 2' "$WORK"/each-*.out | wc -l)"
slowest="$(awk '{ print $2 }' "$WORK"/each-*.out | sort -n | tail -1)"
peak="$(kib_of VmHWM)"
echo "  $done_count of $PARALLEL arrived; $(mb_per_s $((PARALLEL * EACH_MIB * 1024 * 1024)) "$seconds") MB/s together" \
  "(${seconds%.*} s), slowest ${slowest%.*} s; server memory peak ${peak} KiB"
rm -f "$WORK"/each-*

say "Time to the first preview of a 12-megapixel JPEG"
# Measured in the service, from the moment the upload's last byte is checked and recorded to
# its preview being stored: the test draws the photo (no image tool needed here).
env -u CUPULA_TEST_DATABASE_URL -u CUPULA_TEST_S3_ENDPOINT \
  cargo test --release -p app --features ssr --test integration \
  previews::time_to_first_thumbnail_of_a_12_mp_photo -- --ignored --nocapture 2>&1 | grep -E "^(12 MP|median)" || true
