-- 1. Search scope terms begin with `_`, which no word of a text or of a query has. They were
-- letters and digits (`zzscopeorg7`), so a client could type another organization's scope term
-- into a message and have it indexed as that organization's, crowding its searches.
--
-- The vector is now made of the terms as they are: the 'simple' text parser drops `_`, and its
-- idea of a letter depends on the database's locale, so it could split a term into pieces the
-- server never made. The index goes with the column and is made again once (in each partition).
ALTER TABLE search_documents DROP COLUMN terms_vector;

-- Each document's own scope terms are rewritten from its ticket; a look-alike typed into a text
-- stays a plain word. Terms longer than a lexeme may be (2047 bytes, which the parser used to
-- skip) are left out, as the server now cuts them.
UPDATE search_documents AS d
SET terms = (
    SELECT COALESCE(string_agg(term, ' ' ORDER BY position), '')
    FROM unnest(string_to_array(btrim(replace(
        ' ' || d.terms || ' ',
        ' zzscopeobs' || t.observatory_id || ' zzscopeorg' || t.organization_id
            || CASE WHEN d.internal THEN ' zzscopeinternal ' ELSE ' ' END,
        ' _obs' || t.observatory_id || ' _org' || t.organization_id
            || CASE WHEN d.internal THEN ' _internal ' ELSE ' ' END
    )), ' ')) WITH ORDINALITY AS words (term, position)
    WHERE term <> '' AND octet_length(term) <= 2047
)
FROM tickets AS t
WHERE t.id = d.ticket_id;

ALTER TABLE search_documents ADD COLUMN terms_vector TSVECTOR
    GENERATED ALWAYS AS (array_to_tsvector(array_remove(string_to_array(terms, ' '), ''))) STORED;
CREATE INDEX search_documents_terms ON search_documents USING GIN (terms_vector);

-- 2. What a form posted without JavaScript carried, kept for the page it returns to instead of
-- in that page's address (which browsers, proxies and logs keep). Found by the SHA-256 of a
-- random token held in a short-lived cookie, only by the same session (NULL: a form for the
-- signed-out, such as sign-in), read once, and gone after a few minutes.
CREATE TABLE form_drafts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    session_id BIGINT REFERENCES sessions(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    -- The typed fields, a JSON object of names to values.
    fields TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX form_drafts_by_expiry ON form_drafts (expires_at);
CREATE INDEX form_drafts_by_session ON form_drafts (session_id);
