-- Single-use links (invitations, password resets, e-mail verification), the e-mail outbox, and
-- failed sign-ins for throttling.

CREATE TABLE account_tokens (
    id INTEGER PRIMARY KEY,
    -- SHA-256 of the token in the link; the link itself is never stored.
    token_hash TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('invitation', 'password_reset', 'email_verification')),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    revoked_at TEXT
);
CREATE INDEX account_tokens_by_user ON account_tokens (user_id, purpose);

-- Messages waiting to be sent, written in the same transaction as the change they report.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    observatory_id INTEGER NOT NULL REFERENCES observatories(id),
    to_address TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    -- What the message is about (password_reset, invitation…), for rate limits and audits.
    kind TEXT NOT NULL,
    created_at TEXT NOT NULL,
    sent_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX outbox_pending ON outbox (sent_at, id);
CREATE INDEX outbox_by_address ON outbox (to_address, kind, created_at);

CREATE TABLE sign_in_failures (
    id INTEGER PRIMARY KEY,
    observatory_id INTEGER NOT NULL REFERENCES observatories(id),
    email TEXT NOT NULL,
    ip TEXT NOT NULL,
    failed_at TEXT NOT NULL
);
CREATE INDEX sign_in_failures_by_email ON sign_in_failures (observatory_id, email, failed_at);
CREATE INDEX sign_in_failures_by_ip ON sign_in_failures (ip, failed_at);
