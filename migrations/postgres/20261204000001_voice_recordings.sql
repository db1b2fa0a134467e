-- Recordings streamed from the browser while the person speaks, before they send them with a
-- message or a request. `recording_key` is the browser's name for it (random), unique per
-- person, so a dropped connection resumes the same recording. Each chunk is stored before it
-- is acknowledged, so an acknowledged chunk survives a crash. At stop the whole recording is
-- staged as an attachment (`attachment_id`) and its machine transcript is kept here until the
-- form that sends it commits it to a ticket; then, or after a day, the row and its chunks go.
-- `state`: 'recording', 'ready' (staged, transcript written or not).
CREATE TABLE voice_recordings (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    recording_key TEXT NOT NULL,
    format TEXT NOT NULL,
    language TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('recording', 'ready')),
    chunks INTEGER NOT NULL DEFAULT 0,
    bytes BIGINT NOT NULL DEFAULT 0,
    -- Not a foreign key: the staged file may expire first, and then the recording is gone too.
    attachment_id TEXT,
    duration_ms BIGINT,
    transcript_state TEXT
        CHECK (transcript_state IN ('done', 'unavailable', 'failed', 'pending')),
    transcript TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (user_id, recording_key)
);
CREATE INDEX voice_recordings_by_age ON voice_recordings (updated_at);
CREATE TABLE voice_recording_chunks (
    recording_id BIGINT NOT NULL REFERENCES voice_recordings(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (recording_id, seq)
);
