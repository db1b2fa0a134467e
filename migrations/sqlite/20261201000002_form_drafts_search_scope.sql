-- 1. Search scope terms begin with `_`, which no word of a text or of a query has. They were
-- letters and digits (`zzscopeorg7`), so a client could type another organization's scope term
-- into a message and have it indexed as that organization's, crowding its searches.
--
-- Each document's own scope terms are rewritten from its ticket; a look-alike typed into a text
-- stays a plain word. FTS5 now keeps `_` inside a term, so the index is made again.
UPDATE search_documents
SET terms = trim(replace(
    ' ' || search_documents.terms || ' ',
    ' zzscopeobs' || t.observatory_id || ' zzscopeorg' || t.organization_id
        || CASE WHEN search_documents.internal THEN ' zzscopeinternal ' ELSE ' ' END,
    ' _obs' || t.observatory_id || ' _org' || t.organization_id
        || CASE WHEN search_documents.internal THEN ' _internal ' ELSE ' ' END
))
FROM tickets AS t
WHERE t.id = search_documents.ticket_id;

DROP TABLE search_index;
CREATE VIRTUAL TABLE search_index USING fts5(
    terms, content = 'search_documents', content_rowid = 'id',
    tokenize = "unicode61 tokenchars '_'"
);
INSERT INTO search_index (search_index) VALUES ('rebuild');

-- 2. What a form posted without JavaScript carried, kept for the page it returns to instead of
-- in that page's address (which browsers, proxies and logs keep). Found by the SHA-256 of a
-- random token held in a short-lived cookie, only by the same session (NULL: a form for the
-- signed-out, such as sign-in), read once, and gone after a few minutes.
CREATE TABLE form_drafts (
    id INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    session_id INTEGER REFERENCES sessions(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    -- The typed fields, a JSON object of names to values.
    fields TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX form_drafts_by_expiry ON form_drafts (expires_at);
CREATE INDEX form_drafts_by_session ON form_drafts (session_id);
