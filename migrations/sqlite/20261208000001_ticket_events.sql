-- Every change to a ticket as a durable event, written in the change's transaction: live pages
-- and `GET /api/v1/events` catch up from the last id they saw, with no gap and no duplicate.
-- An event's id comes from event_sequence, whose single row the writing transaction keeps
-- locked until it commits (PostgreSQL), so a reader never sees an id before a smaller one.

CREATE TABLE event_sequence (
    only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
    last_id INTEGER NOT NULL
);
INSERT INTO event_sequence (only_row, last_id) VALUES (1, 0);

CREATE TABLE ticket_events (
    id INTEGER PRIMARY KEY,
    observatory_id INTEGER NOT NULL REFERENCES observatories(id),
    -- The ticket's organization: clients follow only theirs.
    organization_id INTEGER NOT NULL REFERENCES organizations(id),
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    entry_id INTEGER NOT NULL REFERENCES timeline_entries(id),
    -- The entry's kind, or `transcript` when a voice entry's transcript arrived (or failed).
    kind TEXT NOT NULL,
    -- Staff-only entries: never sent to a client.
    internal BOOLEAN NOT NULL,
    actor_id INTEGER REFERENCES users(id),
    created_at TEXT NOT NULL
);
CREATE INDEX ticket_events_by_observatory ON ticket_events (observatory_id, id);
CREATE INDEX ticket_events_by_organization ON ticket_events (organization_id, id);
CREATE INDEX ticket_events_by_ticket ON ticket_events (ticket_id, id);
