-- Replies by e-mail. Every message that reached a request's reply address is kept once (by
-- its Message-ID): posted to the request as its sender's message, held for staff when the
-- sender is nobody who may write there, then released as an internal note or discarded.

CREATE TABLE inbound_mail (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    message_id TEXT NOT NULL,
    from_address TEXT NOT NULL,
    subject TEXT NOT NULL,
    -- The reply's own words: quoted text and signature removed.
    body_text TEXT NOT NULL,
    received_at TEXT NOT NULL,
    -- 'posted' (a message of its sender), 'held', 'released' (as an internal note), 'discarded'.
    state TEXT NOT NULL CHECK (state IN ('posted', 'held', 'released', 'discarded')),
    -- Why it was held: 'unknown_sender' (nobody who may write on the request) or 'closed'.
    held_because TEXT CHECK (held_because IN ('unknown_sender', 'closed')),
    -- The timeline entry it became (posted or released).
    entry_id INTEGER REFERENCES timeline_entries(id),
    decided_by INTEGER REFERENCES users(id),
    decided_at TEXT,
    UNIQUE (ticket_id, message_id)
);
CREATE INDEX inbound_mail_held ON inbound_mail (ticket_id) WHERE state = 'held';
