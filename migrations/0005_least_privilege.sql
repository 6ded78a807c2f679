-- Least privilege (README, Security). The roles and their grants are not here: they are
-- cluster-wide, may be made by hand where the migrator may not create roles, and are
-- (re)asserted by every `leadsync migrate` unless `--no-roles` (Sources/LeadSyncStore/
-- Migrations/DatabaseRoles.swift). This file only makes the schema safe to hand to them.

-- The triggers on leads write projects and lead_counts, which a writer may not touch, so
-- they run with their owner's rights. Their bodies name every table by schema; the pinned
-- search_path keeps a caller's objects (a temp table, a function in another schema) from
-- standing in for pg_catalog's. A trigger function cannot be called directly, and no
-- caller needs to: EXECUTE is the owner's alone. A later migration that replaces one of
-- these functions (CREATE OR REPLACE) must restate SECURITY DEFINER and the SET clause,
-- or they revert to the defaults.
ALTER FUNCTION leadsync.leads_after_insert() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION leadsync.leads_after_update() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION leadsync.leads_after_delete() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION leadsync.leads_after_truncate() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE EXECUTE ON FUNCTION leadsync.leads_after_insert() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION leadsync.leads_after_update() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION leadsync.leads_after_delete() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION leadsync.leads_after_truncate() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION leadsync.touch_updated_at() FROM PUBLIC;
-- The worker folds lead_counts with it; granted to the worker and admin roles only.
ALTER FUNCTION leadsync.compact_lead_counts() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE EXECUTE ON FUNCTION leadsync.compact_lead_counts() FROM PUBLIC;

-- docs/contract.md §1: an INSERT only ever creates a pending lead. A role that may not UPDATE leads
-- (the writer) is refused, with the columns it set, when it sets a column LeadSync
-- maintains; roles that may UPDATE leads (the worker, operators: `lead resubmit` sets
-- resubmit_of) could set them a moment later anyway and are let through. Refused rather
-- than silently reset, so a writer learns at once that its INSERT is not what it meant.
-- The WHEN clause keeps the common insert free of any PL/pgSQL call.
CREATE FUNCTION leadsync.leads_insert_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    named text[];
BEGIN
    IF has_table_privilege('leadsync.leads', 'UPDATE') THEN
        RETURN NEW;
    END IF;
    named := array_remove(ARRAY[
        CASE WHEN NEW.status IS DISTINCT FROM 'pending' THEN 'status' END,
        CASE WHEN NEW.attempt_count IS DISTINCT FROM 0 THEN 'attempt_count' END,
        CASE WHEN NEW.next_attempt_at IS NOT NULL THEN 'next_attempt_at' END,
        CASE WHEN NEW.held_reason IS NOT NULL THEN 'held_reason' END,
        CASE WHEN NEW.ambiguous IS DISTINCT FROM false THEN 'ambiguous' END,
        CASE WHEN NEW.submitted_at IS NOT NULL THEN 'submitted_at' END,
        CASE WHEN NEW.remote_id IS NOT NULL THEN 'remote_id' END,
        CASE WHEN NEW.last_error IS NOT NULL THEN 'last_error' END,
        CASE WHEN NEW.resubmit_of IS NOT NULL THEN 'resubmit_of' END,
        CASE WHEN NEW.created_at IS DISTINCT FROM now() THEN 'created_at' END,
        CASE WHEN NEW.updated_at IS DISTINCT FROM now() THEN 'updated_at' END,
        CASE WHEN NEW.id > coalesce(pg_sequence_last_value('leadsync.leads_id_seq'::regclass), 0) THEN 'id' END
    ], NULL);
    RAISE EXCEPTION 'an INSERT into leadsync.leads only creates a pending lead: % maintained by LeadSync, leave % out',
            array_to_string(named, ', '), CASE WHEN cardinality(named) = 1 THEN 'it' ELSE 'them' END
        USING ERRCODE = 'check_violation', CONSTRAINT = 'leads_insert_creates_pending',
              SCHEMA = 'leadsync', TABLE = 'leads';
END;
$$;
REVOKE EXECUTE ON FUNCTION leadsync.leads_insert_guard() FROM PUBLIC;

CREATE TRIGGER leads_insert_guard
    BEFORE INSERT ON leadsync.leads
    FOR EACH ROW WHEN (
        NEW.status IS DISTINCT FROM 'pending' OR NEW.attempt_count IS DISTINCT FROM 0
        OR NEW.next_attempt_at IS NOT NULL OR NEW.held_reason IS NOT NULL OR NEW.ambiguous IS DISTINCT FROM false
        OR NEW.submitted_at IS NOT NULL OR NEW.remote_id IS NOT NULL OR NEW.last_error IS NOT NULL
        OR NEW.resubmit_of IS NOT NULL OR NEW.created_at IS DISTINCT FROM now()
        OR NEW.updated_at IS DISTINCT FROM now()
        -- An id ahead of the sequence (OVERRIDING SYSTEM VALUE) would make a later insert collide.
        OR NEW.id > coalesce(pg_sequence_last_value('leadsync.leads_id_seq'::regclass), 0))
    EXECUTE FUNCTION leadsync.leads_insert_guard();

-- Byte bounds on every text column a writer sets (README, Security, lists them and why),
-- so an oversized field fails its INSERT at once instead of failing at send time. Added
-- validated: a table already holding a longer value stops this migration with the
-- constraint's name, and nothing is half-applied.
ALTER TABLE leadsync.leads
    ADD CONSTRAINT leads_project_id_bytes CHECK (octet_length(project_id) <= 200),
    ADD CONSTRAINT leads_process_id_bytes CHECK (octet_length(process_id) <= 200),
    ADD CONSTRAINT leads_group_id_bytes CHECK (octet_length(group_id) <= 200),
    ADD CONSTRAINT leads_phone_bytes CHECK (octet_length(phone) <= 64),
    ADD CONSTRAINT leads_email_bytes CHECK (octet_length(email) <= 320),
    ADD CONSTRAINT leads_name_bytes CHECK (octet_length(name) <= 400),
    ADD CONSTRAINT leads_first_name_bytes CHECK (octet_length(first_name) <= 200),
    ADD CONSTRAINT leads_last_name_bytes CHECK (octet_length(last_name) <= 200),
    ADD CONSTRAINT leads_reference_id_bytes CHECK (octet_length(reference_id) <= 200),
    ADD CONSTRAINT leads_remote_lead_id_bytes CHECK (octet_length(remote_lead_id) <= 200);
