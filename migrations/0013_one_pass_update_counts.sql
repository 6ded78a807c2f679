-- The update trigger reads its transition tables once (docs/performance.md §10, issue 14).
-- Forward-only: never edit an applied file.
--
-- Every write-back fires `leads_after_update` with the old and new versions of its 1000
-- leads. Migration 0011's function read them four times in four statements: the projects
-- of the new versions, the counts (old and new), whether any lead became pending, and, if
-- one did, what to notify and record. Now one statement groups the old and new versions by
-- project and state once, and the projects, the counts and "did any lead become pending"
-- all come from those few groups. Same effects: a project a lead moved to gets its row,
-- the counts move by the same deltas, and only when a lead is pending after the statement
-- are the notification and arrival rows worked out, as before.
CREATE OR REPLACE FUNCTION leadsync.leads_after_update() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    any_pending boolean;
BEGIN
    WITH changes AS MATERIALIZED (
        -- in_new: some new version has this project and state.
        SELECT project_id, status, sum(d) AS delta, bool_or(d > 0) AS in_new
        FROM (
            SELECT project_id, status, -1 AS d FROM old_leads
            UNION ALL
            SELECT project_id, status, 1 FROM new_leads
        ) AS c
        GROUP BY project_id, status
    ), known AS (
        INSERT INTO leadsync.projects (project_id)
        SELECT DISTINCT project_id FROM changes WHERE in_new
        ON CONFLICT (project_id) DO NOTHING
    ), counted AS (
        INSERT INTO leadsync.lead_counts (project_id, status, delta)
        SELECT project_id, status, delta FROM changes WHERE delta <> 0
    )
    SELECT coalesce(bool_or(in_new AND status = 'pending'), false) INTO any_pending FROM changes;
    IF any_pending THEN
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
