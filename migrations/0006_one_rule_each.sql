-- One place for each rule (docs/contract.md §2, §1.2, §3.4). Forward-only: never edit an applied file.

-- `in_flight` was never written: a lead being sent stays `pending` and is listed in its
-- open attempt's `lead_ids`, and the report derives "in flight" from that. The allowed
-- values now say so. No row can hold 'in_flight', so the re-validation cannot fail.
ALTER TABLE leadsync.leads
    DROP CONSTRAINT leads_status_known,
    ADD CONSTRAINT leads_status_known
        CHECK (status IN ('pending', 'submitted', 'invalid', 'held', 'cancelled'));

-- Rules every query states the same way, each defined once here and called by the worker,
-- `leadsync check` and `leadsync report` alike. Plain SQL functions, not SECURITY DEFINER
-- and without SET clauses, so the planner inlines them: the queries keep their plans and
-- partial indexes. They run with the caller's rights and read nothing but their
-- arguments, so the default EXECUTE for PUBLIC is left (reaching them takes USAGE on the
-- schema, which only LeadSync's roles have).

-- A project is paused at `at_time` while `paused` is set and `paused_until` is empty or
-- still ahead: a pause with an end is over once it has passed (docs/contract.md §1.2).
CREATE FUNCTION leadsync.project_is_paused(p leadsync.projects, at_time timestamptz DEFAULT now())
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT p.paused AND (p.paused_until IS NULL OR p.paused_until > at_time)
$$;

-- A lead holding a phone claim keeps it, and makes any other lead with that phone in its
-- project a local duplicate, while it is pending (in flight included) or submitted
-- (docs/contract.md §3.4); an invalid, held or cancelled holder can be replaced.
CREATE FUNCTION leadsync.phone_holder_is_live(status text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT status IN ('pending', 'submitted')
$$;
