-- Voice comments. A voice entry is a timeline entry of kind 'voice' whose recording is an
-- attachment committed with it; this row holds what the timeline row (never updated) cannot:
-- where its transcript stands. `transcript_state`: 'pending' (a job will write it),
-- 'done', 'unavailable' (no engine configured: the audio is kept and playable) or 'failed'
-- (the engine could not; staff may run it again, which adds a new entry). `transcript` is the
-- machine's text; `edited_text` what the person sent instead of it, if they changed it. A job
-- claims a pending row until `claimed_until` and counts the attempt first.
CREATE TABLE voice_entries (
    entry_id BIGINT PRIMARY KEY REFERENCES timeline_entries(id),
    observatory_id BIGINT NOT NULL REFERENCES observatories(id),
    ticket_id BIGINT NOT NULL REFERENCES tickets(id),
    attachment_id TEXT NOT NULL REFERENCES attachments(id),
    duration_ms BIGINT NOT NULL CHECK (duration_ms >= 0),
    -- What the recording is spoken in (a Whisper language code such as es or en).
    language TEXT NOT NULL,
    transcript_state TEXT NOT NULL
        CHECK (transcript_state IN ('pending', 'done', 'unavailable', 'failed')),
    transcript TEXT,
    edited_text TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    claimed_until TIMESTAMPTZ,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX voice_entries_by_ticket ON voice_entries (ticket_id);
CREATE INDEX voice_entries_pending ON voice_entries (updated_at) WHERE transcript_state = 'pending';
