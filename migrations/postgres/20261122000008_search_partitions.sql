-- Search documents in partitions of 1,048,576 ids (2^20), each with its own GIN index.
--
-- GIN intersects whole posting lists before anything is ordered: three common words cost the
-- length of their lists however few of the newest matches a search wants. A search now asks
-- the newest partition first and older ones only while fewer texts matched than it ranks
-- (`matching_texts` in app/src/backend/storage/tickets.rs, whose SEARCH_PARTITION_SIZE must
-- stay equal to the size here), so it intersects recent lists only.
--
-- The partitions are made in advance, 64 of them (67 million texts, some 13 million tickets);
-- the last one takes every later id, so writing never waits on a partition being made.
ALTER TABLE search_documents RENAME TO search_documents_unpartitioned;
ALTER INDEX search_documents_by_ticket RENAME TO search_documents_unpartitioned_by_ticket;
ALTER INDEX search_documents_terms RENAME TO search_documents_unpartitioned_terms;

CREATE SEQUENCE search_document_ids AS BIGINT;
SELECT setval('search_document_ids', COALESCE(MAX(id), 0) + 1, false)
FROM search_documents_unpartitioned;

CREATE TABLE search_documents (
    id BIGINT NOT NULL DEFAULT nextval('search_document_ids'),
    ticket_id BIGINT NOT NULL REFERENCES tickets(id),
    entry_id BIGINT REFERENCES timeline_entries(id),
    internal BOOLEAN NOT NULL DEFAULT FALSE,
    terms TEXT NOT NULL,
    -- The terms are already folded and stemmed: the 'simple' configuration only splits them.
    terms_vector TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, terms)) STORED,
    PRIMARY KEY (id)
) PARTITION BY RANGE (id);
ALTER SEQUENCE search_document_ids OWNED BY search_documents.id;

DO $$
DECLARE
    size CONSTANT BIGINT := 1048576;
    last CONSTANT INT := 63;
BEGIN
    FOR n IN 0 .. last LOOP
        EXECUTE format(
            'CREATE TABLE search_documents_%s PARTITION OF search_documents FOR VALUES FROM (%s) TO (%s)',
            n, n * size, CASE WHEN n = last THEN 'MAXVALUE' ELSE ((n + 1) * size)::TEXT END
        );
    END LOOP;
END $$;

INSERT INTO search_documents (id, ticket_id, entry_id, internal, terms)
SELECT id, ticket_id, entry_id, internal, terms FROM search_documents_unpartitioned;
DROP TABLE search_documents_unpartitioned;

CREATE INDEX search_documents_by_ticket ON search_documents (ticket_id);
CREATE INDEX search_documents_terms ON search_documents USING GIN (terms_vector);
