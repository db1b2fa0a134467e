# The two commands of the README. Both install what is missing first (see scripts/lib.sh).
.PHONY: run test

## Build the portal and serve it on http://127.0.0.1:3000 (data in ./data)
run:
	@scripts/run.sh

## Run every check and test (Rust on SQLite and PostgreSQL, browser tests in Chromium)
test:
	@scripts/test.sh
