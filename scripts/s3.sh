# A throwaway S3-compatible server (moto, installed by ensure_s3_test_server) on a free port,
# for the test run. Sourced by test.sh after postgres.sh (which has free_port).
# start_s3 sets S3_ENDPOINT and creates the tests' bucket `cupula-test` (each test takes a
# prefix of its own in it); stop_s3 ends the server. It keeps objects in memory.

S3_PID=""
S3_LOG=""
S3_ENDPOINT=""

start_s3() {
  local port
  port="$(free_port)"
  S3_LOG="$(mktemp /tmp/cupula-s3.XXXXXX.log)"
  "$MOTO_VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$S3_LOG" 2>&1 &
  S3_PID=$!
  S3_ENDPOINT="http://127.0.0.1:$port"
  export S3_ENDPOINT
  # Up once it answers; creating the bucket is the first request.
  "$MOTO_VENV/bin/python" - "$S3_ENDPOINT/cupula-test" <<'PY'
import sys, time, urllib.request
for _ in range(150):
    try:
        urllib.request.urlopen(urllib.request.Request(sys.argv[1], method="PUT"), timeout=5)
        sys.exit(0)
    except OSError:
        time.sleep(0.2)
sys.exit("the S3 test server did not start")
PY
}

stop_s3() {
  if [ -n "$S3_PID" ]; then
    kill "$S3_PID" 2>/dev/null || true
    wait "$S3_PID" 2>/dev/null || true
    S3_PID=""
  fi
  if [ -n "$S3_LOG" ]; then rm -f "$S3_LOG"; fi
}
