-- E-mails that carry a single-use link keep it only sealed with the portal's secret key, which
-- lives outside the database: body_text holds the mail with the link's token redacted, and
-- sealed_body the whole mail, sealed; it is wiped once the mail is sent.
ALTER TABLE outbox ADD COLUMN sealed_body TEXT;

-- Mails queued before this lose the token from their text, and their links stop working, so
-- neither this database nor a backup taken before the upgrade holds a usable link. (A link
-- has one token, after '?token='; the person asks for a new link or is invited again.)
UPDATE outbox
SET body_text = substr(body_text, 1, instr(body_text, '?token=') + 6) || '[redacted]'
    || substr(body_text, instr(body_text, '?token=') + 7 + 64)
WHERE instr(body_text, '?token=') > 0;
UPDATE account_tokens SET revoked_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
WHERE used_at IS NULL AND revoked_at IS NULL;

-- An API key may end on a date chosen at its creation (NULL: it does not expire).
ALTER TABLE api_tokens ADD COLUMN expires_at TEXT;

-- Deactivating a person or an organization now revokes the keys; keys of people already shut
-- out were only refused while they stayed so, and are revoked here, so reactivation does not
-- bring them back.
UPDATE api_tokens SET revoked_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
WHERE revoked_at IS NULL AND user_id IN (
    SELECT u.id FROM users u LEFT JOIN organizations o ON o.id = u.organization_id
    WHERE NOT u.active OR NOT o.active
);
