-- Previews of attached files, made off the request path once an upload is complete: a small
-- picture (`preview_*`, at most 480 px a side) of an image or a PDF's first page, and for
-- images larger than that a bigger one for the lightbox (`display_*`, at most 1600 px), both
-- JPEG without metadata, stored in the file store under server-made names. `preview_state`
-- says where it stands: 'pending' (to be made), 'ready', 'none' (nothing to show: not an
-- image, or a format without a decoder) or 'failed' (the file could not be decoded; never
-- tried again). A maker claims a row until `preview_claimed_until` and counts the attempt
-- first, so a file that crashes the maker is given up after a few tries, not retried forever.
ALTER TABLE attachments ADD COLUMN preview_state TEXT NOT NULL DEFAULT 'pending'
    CHECK (preview_state IN ('pending', 'ready', 'none', 'failed'));
ALTER TABLE attachments ADD COLUMN preview_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE attachments ADD COLUMN preview_claimed_until TIMESTAMPTZ;
ALTER TABLE attachments ADD COLUMN preview_name TEXT;
ALTER TABLE attachments ADD COLUMN preview_width INTEGER;
ALTER TABLE attachments ADD COLUMN preview_height INTEGER;
ALTER TABLE attachments ADD COLUMN display_name TEXT;
ALTER TABLE attachments ADD COLUMN display_width INTEGER;
ALTER TABLE attachments ADD COLUMN display_height INTEGER;
-- Files attached before previews existed: the formats that get one are made by the sweep.
UPDATE attachments SET preview_state = 'none'
    WHERE content_type NOT IN ('image/jpeg', 'image/png', 'image/webp', 'image/gif', 'application/pdf');
CREATE INDEX attachments_previews_pending ON attachments (created_at) WHERE preview_state = 'pending';
CREATE UNIQUE INDEX attachments_by_preview_name ON attachments (preview_name);
CREATE UNIQUE INDEX attachments_by_display_name ON attachments (display_name);
