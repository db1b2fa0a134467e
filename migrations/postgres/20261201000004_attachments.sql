-- Attached files. An upload belongs to the person who began it; complete and checked, it
-- becomes a staged attachment of theirs (no ticket yet: a new request has none while its files
-- upload), and committing it points it at a ticket's timeline entry. Files live in the file
-- store under server-made names (`storage_name`); rows hold what is known of them.

CREATE TABLE attachments (
    -- Random (256 bits, hexadecimal): it names the file in download addresses.
    id TEXT PRIMARY KEY,
    observatory_id BIGINT NOT NULL REFERENCES observatories(id),
    owner_id BIGINT NOT NULL REFERENCES users(id),
    -- Whose quota it counts against: a client's organization from the start, the ticket's once
    -- committed; NULL while a staff member's file is staged.
    organization_id BIGINT REFERENCES organizations(id),
    ticket_id BIGINT REFERENCES tickets(id),
    entry_id BIGINT REFERENCES timeline_entries(id),
    -- Attached to an internal note: staff only.
    internal BOOLEAN NOT NULL DEFAULT FALSE,
    name TEXT NOT NULL,
    size BIGINT NOT NULL CHECK (size > 0),
    -- Detected from the first bytes, never from the name or the browser.
    content_type TEXT NOT NULL,
    inline BOOLEAN NOT NULL,
    sha256 TEXT NOT NULL,
    storage_name TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    -- Staged files are purged then; NULL once committed.
    expires_at TIMESTAMPTZ,
    CHECK ((ticket_id IS NULL) = (expires_at IS NOT NULL))
);
CREATE INDEX attachments_by_ticket ON attachments (ticket_id, entry_id);
CREATE INDEX attachments_by_organization ON attachments (organization_id);
CREATE INDEX attachments_staged ON attachments (expires_at) WHERE ticket_id IS NULL;

-- Uploads in progress (resumable), found by the SHA-256 of their random id; kept until they
-- expire, 24 hours after their last byte.
CREATE TABLE uploads (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    observatory_id BIGINT NOT NULL REFERENCES observatories(id),
    user_id BIGINT NOT NULL REFERENCES users(id),
    -- A client's organization (its quota counts the declared length); NULL for staff.
    organization_id BIGINT REFERENCES organizations(id),
    name TEXT NOT NULL,
    length BIGINT NOT NULL CHECK (length > 0),
    -- Bytes on the disk: where the upload resumes.
    received BIGINT NOT NULL DEFAULT 0 CHECK (received >= 0 AND received <= length),
    -- The partial file's server-made name.
    storage_name TEXT NOT NULL UNIQUE,
    -- Once complete: the staged attachment it became.
    attachment_id TEXT REFERENCES attachments(id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX uploads_by_expiry ON uploads (expires_at);
CREATE INDEX uploads_by_organization ON uploads (organization_id) WHERE attachment_id IS NULL;
CREATE INDEX uploads_by_attachment ON uploads (attachment_id);
