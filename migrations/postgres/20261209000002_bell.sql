-- The in-app notifications behind the bell: one row per person told of a timeline entry,
-- written with that entry's e-mails (by the same rules), read or not.
CREATE TABLE bell_notifications (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    observatory_id BIGINT NOT NULL REFERENCES observatories(id),
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    entry_id BIGINT NOT NULL REFERENCES timeline_entries(id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    read_at TIMESTAMPTZ,
    UNIQUE (user_id, entry_id)
);
CREATE INDEX bell_by_user ON bell_notifications (user_id, id);
CREATE INDEX bell_unread ON bell_notifications (user_id) WHERE read_at IS NULL;
