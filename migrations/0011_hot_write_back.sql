-- HOT write-backs (docs/performance.md §8, issue 14). Forward-only: never edit an applied file.
--
-- A write-back changes a lead's status (and remote_id, submitted_at, …). While an index on
-- `leads` named status (the pending partial indexes of 0001, the held index of 0010), no
-- such UPDATE could be HOT: each wrote a new entry into every index of the table, the
-- primary key included. Now no index names a column the usual write-back changes, and
-- pages keep room for the new row versions (fillfactor), so PostgreSQL updates a lead in
-- place on its page: database CPU per lead in the 20-project bench went from the figure in
-- README (Performance) on main to the one beside it.

-- Where new work is. Without a partial index of pending leads, a table of arrivals says
-- "pending never-tried leads of this project may be in this id range": one row per
-- statement per project that inserted such leads (or put leads back to pending, never
-- tried: a release), written by the leads' triggers below, so it commits atomically with
-- the leads. A lead committed late by a long transaction, below what a lane has already
-- read, simply shows up as a new row: the lane scans its range. The lane deletes a row
-- once every lead in its range is recorded in an attempt or finished; a row left behind
-- (a crash) is only scanned again. Internal, documented in docs/contract.md §1.7.
CREATE TABLE leadsync.arrivals (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id text NOT NULL,
    first_id   bigint NOT NULL,
    last_id    bigint NOT NULL,
    -- When the statement's transaction began (for operators: how long work has waited).
    arrived_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT arrivals_range_ordered CHECK (first_id <= last_id)
);
CREATE INDEX arrivals_project_first ON leadsync.arrivals (project_id, first_id);
ALTER TABLE leadsync.arrivals SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);

-- The leads pending now, never tried, as one range per project (read through the old index).
INSERT INTO leadsync.arrivals (project_id, first_id, last_id, arrived_at)
SELECT project_id, min(id), max(id), min(created_at) FROM leadsync.leads
WHERE status = 'pending' AND next_attempt_at IS NULL
GROUP BY project_id;

-- next_attempt_at now means "waiting for a retry" on pending leads only: the write-back
-- clears it when a lead leaves pending (only retried leads pay a non-HOT update), so the
-- retry index holds retries and nothing else. Finished and held leads that kept one lose it.
UPDATE leadsync.leads SET next_attempt_at = NULL WHERE next_attempt_at IS NOT NULL AND status <> 'pending';

-- Every lead of a project in id order: the lane's range scans (arrivals), `check`, and the
-- console's pages of a project. Its columns never change, so it costs an entry at insert only.
CREATE INDEX leads_project_id ON leadsync.leads (project_id, id);
DROP INDEX leadsync.leads_pending_new;
-- Leads waiting for a retry, by when it is due. The predicate no longer names status: a
-- lead leaving pending has its next_attempt_at cleared by the write-back.
CREATE INDEX leads_retry ON leadsync.leads (project_id, next_attempt_at, id) WHERE next_attempt_at IS NOT NULL;
DROP INDEX leadsync.leads_pending_retry;
-- Held leads by reason: the same rows as `status = 'held'` (CHECK leads_held_has_reason),
-- named by held_reason, which the usual write-back leaves NULL.
CREATE INDEX leads_held ON leadsync.leads (project_id, held_reason, id) WHERE held_reason IS NOT NULL;
DROP INDEX leadsync.leads_held_by_reason_id;

-- Room on each page for a lead's next version, so its write-back stays HOT (docs/performance.md §8).
-- New pages only; existing ones fill as they are vacuumed.
ALTER TABLE leadsync.leads SET (fillfactor = 50);

-- The insert trigger of 0001, and an arrival row per project for the statement's pending leads.
CREATE OR REPLACE FUNCTION leadsync.leads_after_insert() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO leadsync.projects (project_id)
    SELECT DISTINCT project_id FROM new_leads
    ON CONFLICT (project_id) DO NOTHING;

    INSERT INTO leadsync.lead_counts (project_id, status, delta)
    SELECT project_id, status, count(*) FROM new_leads GROUP BY project_id, status;

    INSERT INTO leadsync.arrivals (project_id, first_id, last_id)
    SELECT project_id, min(id), max(id) FROM new_leads
    WHERE status = 'pending' AND next_attempt_at IS NULL
    GROUP BY project_id;

    PERFORM pg_notify('leadsync_pending', p.project_id)
    FROM (SELECT DISTINCT project_id FROM new_leads WHERE status = 'pending') AS p;
    RETURN NULL;
END;
$$;

-- The update trigger of 0002, and an arrival row per project for leads that became
-- pending and never-tried (a release, `project resume`, an operator's UPDATE).
CREATE OR REPLACE FUNCTION leadsync.leads_after_update() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO leadsync.projects (project_id)
    SELECT DISTINCT project_id FROM new_leads
    ON CONFLICT (project_id) DO NOTHING;
    INSERT INTO leadsync.lead_counts (project_id, status, delta)
    SELECT project_id, status, sum(d) FROM (
        SELECT project_id, status, -1 AS d FROM old_leads
        UNION ALL
        SELECT project_id, status, 1 FROM new_leads
    ) AS c
    GROUP BY project_id, status HAVING sum(d) <> 0;
    IF EXISTS (SELECT 1 FROM new_leads WHERE status = 'pending') THEN
        PERFORM pg_notify('leadsync_pending', p.project_id)
        FROM (
            SELECT DISTINCT n.project_id
            FROM new_leads n JOIN old_leads o ON o.id = n.id
            WHERE n.status = 'pending'
              AND (o.status <> 'pending' OR n.project_id IS DISTINCT FROM o.project_id)
        ) AS p;
        INSERT INTO leadsync.arrivals (project_id, first_id, last_id)
        SELECT n.project_id, min(n.id), max(n.id)
        FROM new_leads n JOIN old_leads o ON o.id = n.id
        WHERE n.status = 'pending' AND n.next_attempt_at IS NULL
          AND (o.status <> 'pending' OR o.next_attempt_at IS NOT NULL OR n.project_id IS DISTINCT FROM o.project_id)
        GROUP BY n.project_id;
    END IF;
    RETURN NULL;
END;
$$;

-- The truncate trigger of 0001: no leads, no arrivals either.
CREATE OR REPLACE FUNCTION leadsync.leads_after_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM leadsync.lead_counts;
    DELETE FROM leadsync.arrivals;
    RETURN NULL;
END;
$$;
