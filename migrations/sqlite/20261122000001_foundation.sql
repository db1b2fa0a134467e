-- Observatories (tenants), their client organizations, people, telescopes and sessions.
-- Tickets, timeline entries, attachments, the e-mail outbox and timers reference these by id,
-- and every tenant-owned row carries observatory_id so that each query can be scoped by it.

CREATE TABLE observatories (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    -- Prefix of ticket numbers, e.g. OBS in OBS-2026-00042.
    ticket_prefix TEXT NOT NULL,
    primary_color TEXT NOT NULL DEFAULT '#1f4e8c',
    accent_color TEXT NOT NULL DEFAULT '#c2410c',
    logo_file TEXT,
    email_sender_name TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE organizations (
    id INTEGER PRIMARY KEY,
    observatory_id INTEGER NOT NULL REFERENCES observatories(id),
    name TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TEXT NOT NULL,
    UNIQUE (observatory_id, name)
);
CREATE INDEX organizations_by_observatory ON organizations (observatory_id);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    observatory_id INTEGER NOT NULL REFERENCES observatories(id),
    -- Set for clients, NULL for staff.
    organization_id INTEGER REFERENCES organizations(id),
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'agent', 'client')),
    language TEXT NOT NULL DEFAULT 'es',
    -- PHC string (argon2id); NULL until the invited person sets a password.
    password_hash TEXT,
    notification_email TEXT,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CHECK ((role = 'client') = (organization_id IS NOT NULL)),
    UNIQUE (observatory_id, email)
);
CREATE INDEX users_by_organization ON users (organization_id);

CREATE TABLE telescopes (
    id INTEGER PRIMARY KEY,
    observatory_id INTEGER NOT NULL REFERENCES observatories(id),
    organization_id INTEGER NOT NULL REFERENCES organizations(id),
    name TEXT NOT NULL,
    model TEXT NOT NULL DEFAULT '',
    location TEXT NOT NULL DEFAULT '',
    notes TEXT NOT NULL DEFAULT '',
    retired_at TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX telescopes_by_organization ON telescopes (organization_id);

CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    -- SHA-256 of the cookie's token: a stolen database does not yield usable cookies.
    token_hash TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    user_agent TEXT NOT NULL DEFAULT '',
    ip TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_by_user ON sessions (user_id);
