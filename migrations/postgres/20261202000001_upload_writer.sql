-- The one writer of an upload, as a lease in the database rather than in one process's memory,
-- so that several server processes (sharing object storage) never append to the same upload at
-- once. A writer holds it while bytes flow, renews it as it goes, and gives it back at the end;
-- one that died (a killed server) loses it when `writer_until` passes.
ALTER TABLE uploads ADD COLUMN writer TEXT;
ALTER TABLE uploads ADD COLUMN writer_until TIMESTAMPTZ;
