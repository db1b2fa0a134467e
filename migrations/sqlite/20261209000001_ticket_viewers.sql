-- Who has a ticket's page open, and whether they are writing on it. Each open page reports
-- itself every few seconds; a row not reported for a while no longer counts. Kept in the
-- database so that server processes sharing one PostgreSQL database see each other's viewers.
CREATE TABLE ticket_viewers (
    ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- One browser tab: a person may have the page open twice.
    tab TEXT NOT NULL,
    -- `reply` or `note` while they write one, else NULL.
    composing TEXT,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (ticket_id, user_id, tab)
);
CREATE INDEX ticket_viewers_by_seen ON ticket_viewers (seen_at);
