-- Search scope terms: internal texts now carry `zzscopeinternal` and public texts no scope term
-- of their own. A client's search then excludes a short list of postings instead of
-- intersecting a "public" one nearly as long as the whole index.
UPDATE search_documents
SET terms = CASE
    WHEN internal THEN terms || ' zzscopeinternal'
    ELSE replace(terms, ' zzscopepublic', '')
END;
-- The full-text index follows its content table only on insert: rebuild it from the new terms.
INSERT INTO search_index (search_index) VALUES ('rebuild');
