-- The outbox sends: each row is claimed by one sender for a while (several server processes
-- share one database), retried with backoff, and given up after a number of attempts (failed),
-- or cancelled by an administrator.

ALTER TABLE outbox ADD COLUMN next_attempt_at TIMESTAMPTZ;
ALTER TABLE outbox ADD COLUMN claimed_until TIMESTAMPTZ;
ALTER TABLE outbox ADD COLUMN failed_at TIMESTAMPTZ;
ALTER TABLE outbox ADD COLUMN cancelled_at TIMESTAMPTZ;

-- What the senders look for: unsent rows that are neither failed nor cancelled.
CREATE INDEX outbox_due ON outbox (next_attempt_at, id)
    WHERE sent_at IS NULL AND failed_at IS NULL AND cancelled_at IS NULL;
