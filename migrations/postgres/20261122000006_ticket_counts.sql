-- How many tickets each organization has per status and assignee: the counts of the list views
-- (all, open, closed; by status, organization, assignee, "mine") read from a few rows instead of
-- counting tickets. Triggers keep it, in the same transaction as the change, so no write path
-- can leave it behind.
CREATE TABLE ticket_counts (
    observatory_id BIGINT NOT NULL,
    organization_id BIGINT NOT NULL,
    status TEXT NOT NULL,
    -- 0: unassigned (a key column cannot be NULL).
    assignee_id BIGINT NOT NULL,
    tickets BIGINT NOT NULL,
    PRIMARY KEY (observatory_id, organization_id, status, assignee_id)
);

INSERT INTO ticket_counts (observatory_id, organization_id, status, assignee_id, tickets)
SELECT observatory_id, organization_id, status, COALESCE(assignee_id, 0), COUNT(*)
FROM tickets GROUP BY observatory_id, organization_id, status, COALESCE(assignee_id, 0);

CREATE FUNCTION ticket_counts_add(
    p_observatory BIGINT, p_organization BIGINT, p_status TEXT, p_assignee BIGINT, p_delta BIGINT
) RETURNS void LANGUAGE sql AS $$
    INSERT INTO ticket_counts (observatory_id, organization_id, status, assignee_id, tickets)
    VALUES (p_observatory, p_organization, p_status, COALESCE(p_assignee, 0), p_delta)
    ON CONFLICT (observatory_id, organization_id, status, assignee_id)
    DO UPDATE SET tickets = ticket_counts.tickets + p_delta;
$$;

CREATE FUNCTION ticket_counts_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM ticket_counts_add(NEW.observatory_id, NEW.organization_id, NEW.status, NEW.assignee_id, 1);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM ticket_counts_add(OLD.observatory_id, OLD.organization_id, OLD.status, OLD.assignee_id, -1);
    -- Two rows change: always in key order, so concurrent changes cannot deadlock.
    ELSIF (OLD.observatory_id, OLD.organization_id, OLD.status, COALESCE(OLD.assignee_id, 0))
        < (NEW.observatory_id, NEW.organization_id, NEW.status, COALESCE(NEW.assignee_id, 0)) THEN
        PERFORM ticket_counts_add(OLD.observatory_id, OLD.organization_id, OLD.status, OLD.assignee_id, -1);
        PERFORM ticket_counts_add(NEW.observatory_id, NEW.organization_id, NEW.status, NEW.assignee_id, 1);
    ELSE
        PERFORM ticket_counts_add(NEW.observatory_id, NEW.organization_id, NEW.status, NEW.assignee_id, 1);
        PERFORM ticket_counts_add(OLD.observatory_id, OLD.organization_id, OLD.status, OLD.assignee_id, -1);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER tickets_counted_on_insert_or_delete AFTER INSERT OR DELETE ON tickets
FOR EACH ROW EXECUTE FUNCTION ticket_counts_follow();

CREATE TRIGGER tickets_counted_on_update
AFTER UPDATE OF observatory_id, organization_id, status, assignee_id ON tickets
FOR EACH ROW
WHEN (OLD.observatory_id IS DISTINCT FROM NEW.observatory_id
    OR OLD.organization_id IS DISTINCT FROM NEW.organization_id
    OR OLD.status IS DISTINCT FROM NEW.status
    OR OLD.assignee_id IS DISTINCT FROM NEW.assignee_id)
EXECUTE FUNCTION ticket_counts_follow();
