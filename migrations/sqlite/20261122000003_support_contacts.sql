-- Support contacts of a client organization: its users, or explicit e-mail addresses, who
-- receive every report of the organization.
CREATE TABLE support_contacts (
    id INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
    email TEXT,
    created_at TEXT NOT NULL,
    CHECK ((user_id IS NULL) <> (email IS NULL)),
    UNIQUE (organization_id, user_id),
    UNIQUE (organization_id, email)
);
CREATE INDEX support_contacts_by_organization ON support_contacts (organization_id);
