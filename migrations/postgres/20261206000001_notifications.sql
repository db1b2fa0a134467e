-- Notifications: every timeline entry waits in notification_queue until the notifier has turned
-- it into the e-mails its rules call for (in the transaction that deletes its row, so each entry
-- is mailed once whatever the number of server processes). The rules can be switched per
-- observatory, and a person can opt out of the optional ones.

CREATE TABLE notification_queue (
    entry_id BIGINT PRIMARY KEY REFERENCES timeline_entries(id),
    created_at TIMESTAMPTZ NOT NULL,
    -- The ticket's assignee when the entry was written: who "the assignee" is for its mails.
    assignee_id BIGINT
);

-- A rule an observatory switched off or on; an observatory without a row uses the default (on).
CREATE TABLE observatory_notification_rules (
    observatory_id BIGINT NOT NULL REFERENCES observatories(id),
    rule TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    PRIMARY KEY (observatory_id, rule)
);

-- An optional rule a person does not want.
CREATE TABLE notification_opt_outs (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    rule TEXT NOT NULL,
    PRIMARY KEY (user_id, rule)
);

-- Where staff notices go when a request has no assignee (else the observatory's agents).
ALTER TABLE observatories ADD COLUMN queue_email TEXT;

-- What a notification e-mail carries beyond its text: the ticket it threads under, its HTML
-- part, the name it is sent under, and where its recipient opts out of its kind.
ALTER TABLE outbox ADD COLUMN ticket_id BIGINT REFERENCES tickets(id);
ALTER TABLE outbox ADD COLUMN body_html TEXT;
ALTER TABLE outbox ADD COLUMN from_name TEXT;
ALTER TABLE outbox ADD COLUMN unsubscribe_url TEXT;
