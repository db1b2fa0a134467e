-- How many tickets each organization has per status and assignee: the counts of the list views
-- (all, open, closed; by status, organization, assignee, "mine") read from a few rows instead of
-- counting tickets. Triggers keep it, in the same transaction as the change, so no write path
-- can leave it behind.
CREATE TABLE ticket_counts (
    observatory_id INTEGER NOT NULL,
    organization_id INTEGER NOT NULL,
    status TEXT NOT NULL,
    -- 0: unassigned (a key column cannot be NULL and still conflict).
    assignee_id INTEGER NOT NULL,
    tickets INTEGER NOT NULL,
    PRIMARY KEY (observatory_id, organization_id, status, assignee_id)
) WITHOUT ROWID;

INSERT INTO ticket_counts (observatory_id, organization_id, status, assignee_id, tickets)
SELECT observatory_id, organization_id, status, COALESCE(assignee_id, 0), COUNT(*)
FROM tickets GROUP BY observatory_id, organization_id, status, COALESCE(assignee_id, 0);

CREATE TRIGGER tickets_counted_on_insert AFTER INSERT ON tickets BEGIN
    INSERT INTO ticket_counts (observatory_id, organization_id, status, assignee_id, tickets)
    VALUES (new.observatory_id, new.organization_id, new.status, COALESCE(new.assignee_id, 0), 1)
    ON CONFLICT (observatory_id, organization_id, status, assignee_id)
    DO UPDATE SET tickets = tickets + 1;
END;

CREATE TRIGGER tickets_counted_on_update
AFTER UPDATE OF observatory_id, organization_id, status, assignee_id ON tickets
WHEN old.observatory_id <> new.observatory_id OR old.organization_id <> new.organization_id
    OR old.status <> new.status OR old.assignee_id IS NOT new.assignee_id
BEGIN
    UPDATE ticket_counts SET tickets = tickets - 1
    WHERE observatory_id = old.observatory_id AND organization_id = old.organization_id
        AND status = old.status AND assignee_id = COALESCE(old.assignee_id, 0);
    INSERT INTO ticket_counts (observatory_id, organization_id, status, assignee_id, tickets)
    VALUES (new.observatory_id, new.organization_id, new.status, COALESCE(new.assignee_id, 0), 1)
    ON CONFLICT (observatory_id, organization_id, status, assignee_id)
    DO UPDATE SET tickets = tickets + 1;
END;

CREATE TRIGGER tickets_counted_on_delete AFTER DELETE ON tickets BEGIN
    UPDATE ticket_counts SET tickets = tickets - 1
    WHERE observatory_id = old.observatory_id AND organization_id = old.organization_id
        AND status = old.status AND assignee_id = COALESCE(old.assignee_id, 0);
END;
