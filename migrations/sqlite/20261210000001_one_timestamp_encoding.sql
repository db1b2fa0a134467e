-- SQLite keeps timestamps as text and compares them as text, so they must all be written alike:
-- RFC 3339 in UTC with a numeric offset, as the portal binds every time value
-- ("2026-12-31T23:59:59.123456+00:00"; the fraction may be absent). Two earlier migrations
-- wrote "…Z" instead, which sorts after any other value of the same second; those are
-- rewritten. (PostgreSQL stores TIMESTAMPTZ values, which compare as times.)
UPDATE account_tokens SET revoked_at = substr(revoked_at, 1, length(revoked_at) - 1) || '+00:00'
WHERE revoked_at LIKE '%Z';
UPDATE api_tokens SET revoked_at = substr(revoked_at, 1, length(revoked_at) - 1) || '+00:00'
WHERE revoked_at LIKE '%Z';
