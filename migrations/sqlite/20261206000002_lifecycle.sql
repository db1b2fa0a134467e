-- The request life cycle: a request waiting for its client is reminded and then closed; a done
-- request asks its client to accept the resolution and is closed automatically if they do not.
-- Each request has at most one timer; a worker fires it when due, in the transaction that
-- deletes it (so it fires once whatever the number of server processes).

CREATE TABLE ticket_timers (
    ticket_id INTEGER PRIMARY KEY REFERENCES tickets(id),
    -- 'waiting' (for the client) or 'confirmation' (of a done request).
    cadence TEXT NOT NULL CHECK (cadence IN ('waiting', 'confirmation')),
    -- Which action of the cadence fires next (1 = the first reminder).
    step INTEGER NOT NULL,
    due_at TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX ticket_timers_due ON ticket_timers (due_at);

-- How a done request was closed: accepted by its client, closed automatically after the
-- confirmation reminders, or closed because its client never answered. NULL: not closed by
-- either (a done request still waiting for confirmation, or any other status).
ALTER TABLE tickets ADD COLUMN resolution TEXT
    CHECK (resolution IN ('accepted', 'auto_closed', 'no_reply'));

-- The cadences, per observatory.
ALTER TABLE observatories ADD COLUMN reminder_hours INTEGER NOT NULL DEFAULT 24;
ALTER TABLE observatories ADD COLUMN reminder_count INTEGER NOT NULL DEFAULT 3;
ALTER TABLE observatories ADD COLUMN closure_hours INTEGER NOT NULL DEFAULT 24;
