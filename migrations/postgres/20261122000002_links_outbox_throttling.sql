-- Single-use links (invitations, password resets, e-mail verification), the e-mail outbox, and
-- failed sign-ins for throttling.

CREATE TABLE account_tokens (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- SHA-256 of the token in the link; the link itself is never stored.
    token_hash TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('invitation', 'password_reset', 'email_verification')),
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX account_tokens_by_user ON account_tokens (user_id, purpose);

-- Messages waiting to be sent, written in the same transaction as the change they report.
CREATE TABLE outbox (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    observatory_id BIGINT NOT NULL REFERENCES observatories(id),
    to_address TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    -- What the message is about (password_reset, invitation…), for rate limits and audits.
    kind TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    sent_at TIMESTAMPTZ,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX outbox_pending ON outbox (sent_at, id);
CREATE INDEX outbox_by_address ON outbox (to_address, kind, created_at);

CREATE TABLE sign_in_failures (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    observatory_id BIGINT NOT NULL REFERENCES observatories(id),
    email TEXT NOT NULL,
    ip TEXT NOT NULL,
    failed_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sign_in_failures_by_email ON sign_in_failures (observatory_id, email, failed_at);
CREATE INDEX sign_in_failures_by_ip ON sign_in_failures (ip, failed_at);
