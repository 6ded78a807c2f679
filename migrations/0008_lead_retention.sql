-- Lead retention: `leadsync prune --leads` (docs/contract.md §7.3). Forward-only: never edit an applied file.

-- A lead is finished when nothing will ever send it again: submitted, invalid or cancelled
-- (docs/contract.md §2.1, "final?"). Pending (in flight included: a lead in an open request
-- is pending, §2.1) and held leads are not. Only finished leads may be pruned; the prune's
-- queries and LeadState.isFinished in Swift use this one rule (a test ties them). A plain
-- SQL function like 0006's, so the planner inlines it and it runs with the caller's rights.
CREATE FUNCTION leadsync.lead_is_finished(status text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT status IN ('submitted', 'invalid', 'cancelled')
$$;

-- No grant here, on purpose. Pruning deletes leads, their attempt_leads history, their
-- invalid markers and their phone claims, and writes lead_counts through the leads delete
-- trigger (SECURITY DEFINER, 0005). leadsync_admin already has DELETE on those tables
-- (Sources/LeadSyncStore/Migrations/DatabaseRoles.swift) and is the only LeadSync role
-- that has: the worker, reader and writer are refused. A SECURITY DEFINER function would
-- only widen who may delete, so none is made.
