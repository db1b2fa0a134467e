# A throwaway PostgreSQL cluster on a free port, for the test run. Sourced by test.sh.
# start_postgres sets PG_URL (a superuser URL to the `postgres` database); stop_postgres removes
# the cluster and its files. PG_SETTINGS adds server settings (`-c name=value …`).

PG_DIR=""
PG_PORT=""

pg_bin() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  echo "$dir/$1"
}

# PostgreSQL refuses to run as root: use the `postgres` account then.
as_pg_user() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_postgres() {
  PG_DIR="$(mktemp -d /tmp/cupula-pg.XXXXXX)"
  PG_PORT="$(free_port)"
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$PG_DIR"; fi
  as_pg_user "$(pg_bin initdb)" -D "$PG_DIR/data" -U cupula -A trust -E UTF8 --no-locale >"$PG_DIR/initdb.log" 2>&1
  as_pg_user "$(pg_bin pg_ctl)" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
    -o "-p $PG_PORT -h 127.0.0.1 -k $PG_DIR -F -c fsync=off -c synchronous_commit=off -c max_connections=300 ${PG_SETTINGS:-}" \
    start >/dev/null
  PG_URL="postgres://cupula@127.0.0.1:$PG_PORT/postgres"
  export PG_URL
}

# Drops the databases the tests made (`cupula_test_…`, one per test) and prints how many.
drop_test_databases() {
  local psql=(as_pg_user "$(pg_bin psql)" -h 127.0.0.1 -p "$PG_PORT" -U cupula -d postgres -qAt)
  local drops
  drops="$("${psql[@]}" -c "SELECT format('DROP DATABASE %I;', datname) FROM pg_database
    WHERE datname LIKE 'cupula\_test\_%'")"
  [ -z "$drops" ] || "${psql[@]}" -v ON_ERROR_STOP=1 <<<"$drops"
  echo "dropped $(grep -c . <<<"$drops" || true) test databases"
}

stop_postgres() {
  if [ -n "$PG_DIR" ] && [ -d "$PG_DIR/data" ]; then
    as_pg_user "$(pg_bin pg_ctl)" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
  fi
}

# Builds the release benchmark BIN and runs it with the rest of the arguments on SQLite, then
# on a PostgreSQL server started here (with PG_SETTINGS, when set) and stopped on exit.
bench_on_both_engines() {
  local bin="$1"
  shift
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_install postgresql
  trap stop_postgres EXIT
  cargo build --release -p server --bin "$bin"
  say "SQLite"
  env -u CUPULA_TEST_DATABASE_URL "target/release/$bin" "$@"
  say "PostgreSQL"
  start_postgres
  CUPULA_TEST_DATABASE_URL="$PG_URL" "target/release/$bin" "$@"
}
