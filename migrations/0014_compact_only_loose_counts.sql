-- compact_lead_counts() folds only the groups that need it (issue 14, goal 3: the idle
-- sweep). Forward-only: never edit an applied file.
--
-- The worker calls it every 10 s. Migration 0001's version deleted and re-inserted every
-- row, folded or not: with 10,000 idle projects about 20,000 rows were rewritten on each
-- call (27 ms), and their dead versions brought autovacuum back to the table. A group
-- already one row with a non-zero sum is left alone now, so a call on an idle database
-- reads the table and writes nothing. Same result as before: each delta row is deleted
-- once, by the call that folds it, and rows committed meanwhile wait for the next call.
CREATE OR REPLACE FUNCTION leadsync.compact_lead_counts() RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    WITH loose AS (
        SELECT project_id, status FROM leadsync.lead_counts
        GROUP BY project_id, status HAVING count(*) > 1 OR sum(delta) = 0
    ), folded AS (
        DELETE FROM leadsync.lead_counts c USING loose
        WHERE c.project_id = loose.project_id AND c.status = loose.status
        RETURNING c.project_id, c.status, c.delta
    )
    INSERT INTO leadsync.lead_counts (project_id, status, delta)
    SELECT project_id, status, sum(delta) FROM folded GROUP BY project_id, status HAVING sum(delta) <> 0;
$$;
