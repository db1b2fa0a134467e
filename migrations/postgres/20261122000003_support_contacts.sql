-- Support contacts of a client organization: its users, or explicit e-mail addresses, who
-- receive every report of the organization.
CREATE TABLE support_contacts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id BIGINT REFERENCES users(id) ON DELETE CASCADE,
    email TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    CHECK ((user_id IS NULL) <> (email IS NULL)),
    UNIQUE (organization_id, user_id),
    UNIQUE (organization_id, email)
);
CREATE INDEX support_contacts_by_organization ON support_contacts (organization_id);
