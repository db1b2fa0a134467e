-- Tickets (requests), their append-only timelines, the search index and API tokens.

-- The last ticket number given per observatory and year; incremented inside the transaction
-- that creates the ticket, so numbers are unique and gap-free under concurrency.
CREATE TABLE ticket_counters (
    observatory_id BIGINT NOT NULL REFERENCES observatories(id),
    year BIGINT NOT NULL,
    last_number BIGINT NOT NULL,
    PRIMARY KEY (observatory_id, year)
);

CREATE TABLE tickets (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    observatory_id BIGINT NOT NULL REFERENCES observatories(id),
    organization_id BIGINT NOT NULL REFERENCES organizations(id),
    -- OBS-2026-00042: the observatory's prefix, the year and the counter.
    number TEXT NOT NULL,
    request_type TEXT NOT NULL
        CHECK (request_type IN ('question', 'installation', 'repair', 'update', 'visit')),
    telescope_id BIGINT REFERENCES telescopes(id),
    priority BIGINT NOT NULL CHECK (priority IN (0, 5, 10)),
    status TEXT NOT NULL
        CHECK (status IN ('open', 'in_progress', 'blocked', 'done', 'cancelled')),
    -- Done or cancelled; a column of its own so the Open/Closed views use an index.
    closed BOOLEAN NOT NULL DEFAULT FALSE,
    subject TEXT NOT NULL,
    assignee_id BIGINT REFERENCES users(id),
    created_by BIGINT NOT NULL REFERENCES users(id),
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    closed_at TIMESTAMPTZ,
    UNIQUE (observatory_id, number)
);
-- The staff queue and the client's list, newest activity first (keyset pagination).
CREATE INDEX tickets_queue ON tickets (observatory_id, updated_at DESC, id DESC);
CREATE INDEX tickets_queue_closed ON tickets (observatory_id, closed, updated_at DESC, id DESC);
CREATE INDEX tickets_queue_created ON tickets (observatory_id, created_at DESC, id DESC);
CREATE INDEX tickets_queue_priority ON tickets (observatory_id, priority DESC, updated_at DESC, id DESC);
CREATE INDEX tickets_by_organization ON tickets (organization_id, updated_at DESC, id DESC);
CREATE INDEX tickets_by_organization_closed ON tickets (organization_id, closed, updated_at DESC, id DESC);
CREATE INDEX tickets_by_telescope ON tickets (telescope_id, created_at DESC, id DESC);
CREATE INDEX tickets_by_assignee ON tickets (assignee_id, updated_at DESC, id DESC);

-- Everything that happened to a ticket, in order. Rows are never updated or deleted.
CREATE TABLE timeline_entries (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    observatory_id BIGINT NOT NULL REFERENCES observatories(id),
    ticket_id BIGINT NOT NULL REFERENCES tickets(id),
    -- created, message, note, status, assignment, priority, attachment, voice, system
    kind TEXT NOT NULL,
    -- Internal notes and other staff-only entries: never shown or sent to clients.
    internal BOOLEAN NOT NULL DEFAULT FALSE,
    author_id BIGINT REFERENCES users(id),
    body TEXT NOT NULL DEFAULT '',
    -- For changes: the codes before and after (status, priority) or user ids (assignment).
    old_value TEXT,
    new_value TEXT,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX timeline_by_ticket ON timeline_entries (ticket_id, id);

-- What keyword search looks at: a ticket's subject and number (entry_id NULL) and each text
-- entry. `terms` holds the words folded (lower case, no accents) and stemmed in Spanish and
-- English by the server, so both engines index exactly the same terms.
CREATE TABLE search_documents (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id),
    entry_id BIGINT REFERENCES timeline_entries(id),
    internal BOOLEAN NOT NULL DEFAULT FALSE,
    terms TEXT NOT NULL,
    -- The terms are already folded and stemmed: the 'simple' configuration only splits them.
    terms_vector TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, terms)) STORED
);
CREATE INDEX search_documents_by_ticket ON search_documents (ticket_id);
CREATE INDEX search_documents_terms ON search_documents USING GIN (terms_vector);

-- Personal API tokens for programs (an observatory's monitoring software). Only hashes stored.
CREATE TABLE api_tokens (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id);
