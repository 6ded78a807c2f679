-- Costs on the hot path, paid with every request (measured, PERFORMANCE.md method).

-- attempt_leads is appended once per lead per request. Its foreign key made PostgreSQL
-- look the attempt up again for every row it inserted: 4.3 ms per 1000 leads with it,
-- 1.1 ms without. The rows are written in the transaction that finishes their attempt,
-- and `prune` deletes them by attempt, so the key guarded nothing the product relies on.
ALTER TABLE leadsync.attempt_leads DROP CONSTRAINT attempt_leads_attempt_id_fkey;

-- An open attempt lists its leads (8 KB for 1000); compressing them with pglz cost
-- 0.33 ms per request, storing them out of line uncompressed 0.05 ms. The list is
-- dropped when the attempt finishes.
ALTER TABLE leadsync.submission_attempts ALTER COLUMN lead_ids SET STORAGE EXTERNAL;

-- Every write-back fires this once. It joined the old and new rows twice; now it joins
-- them only when a lead went back to pending (to wake its project), and a lead moved to
-- another project gets its projects row from the distinct new projects, without the
-- join: 0.7 ms per 1000 leads became 0.4 ms.
CREATE OR REPLACE FUNCTION leadsync.leads_after_update() RETURNS trigger
LANGUAGE plpgsql AS $$
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
    END IF;
    RETURN NULL;
END;
$$;
