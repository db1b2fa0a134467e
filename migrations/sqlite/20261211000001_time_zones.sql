-- Local time: each observatory has an IANA time zone (an administration setting) and each
-- person may choose their own (My account); stored times stay UTC.
ALTER TABLE observatories ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';
ALTER TABLE users ADD COLUMN time_zone TEXT;
