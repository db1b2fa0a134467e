#!/usr/bin/env bash
# The e-mail benchmark on both engines: the mail worker's deliveries per second from a full
# outbox, and the delay from a status change to its e-mails at RATE changes a second.
#   scripts/bench-mail.sh [MAILS=2000] [RATE=100] [SECONDS=20]
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/postgres.sh"
cd "$ROOT"
bench_on_both_engines bench-mail "$@"
