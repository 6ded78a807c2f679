-- LeadSync schema, SPEC §1. Forward-only: never edit an applied file, add a new one.

CREATE SCHEMA IF NOT EXISTS leadsync;

-- One row per Uservox project, created on first sight of a lead (trigger below).
-- No secrets here: tokens live in LEADSYNC_TOKENS_FILE.
CREATE TABLE leadsync.projects (
    project_id          text PRIMARY KEY,
    rate_limit_requests integer NOT NULL DEFAULT 100,
    rate_limit_window   interval NOT NULL DEFAULT interval '5 seconds',
    max_batch_size      integer NOT NULL DEFAULT 1000,
    max_in_flight       integer NOT NULL DEFAULT 4,
    max_attempts        integer NOT NULL DEFAULT 8,
    paused              boolean NOT NULL DEFAULT false,
    pause_reason        text,
    paused_until        timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT projects_rate_limit_requests_positive CHECK (rate_limit_requests > 0),
    CONSTRAINT projects_rate_limit_window_positive CHECK (rate_limit_window > interval '0'),
    CONSTRAINT projects_max_batch_size_range CHECK (max_batch_size BETWEEN 1 AND 1000),
    CONSTRAINT projects_max_in_flight_positive CHECK (max_in_flight > 0),
    CONSTRAINT projects_max_attempts_positive CHECK (max_attempts > 0)
);

CREATE TABLE leadsync.leads (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Written by applications.
    -- project_id's presence is a named CHECK rather than NOT NULL so the error names the rule.
    project_id      text,
    process_id      text,
    group_id        text,
    phone           text,
    email           text,
    name            text,
    first_name      text,
    last_name       text,
    reference_id    text,
    metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
    init            boolean NOT NULL DEFAULT true,
    remote_lead_id  text,
    -- Maintained by LeadSync.
    status          text NOT NULL DEFAULT 'pending',
    attempt_count   integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    submitted_at    timestamptz,
    remote_id       text,
    last_error      text,
    held_reason     text,
    -- An attempt with an unknown outcome carried this lead: a later duplicate answer confirms it.
    ambiguous       boolean NOT NULL DEFAULT false,
    -- `leadsync lead resubmit`: the corrected copy points back at the original.
    resubmit_of     bigint,
    CONSTRAINT leads_project_id_present
        CHECK (project_id IS NOT NULL AND btrim(project_id) <> ''),
    CONSTRAINT leads_metadata_is_object
        CHECK (jsonb_typeof(metadata) = 'object'),
    CONSTRAINT leads_phone_or_remote_lead_id_present
        CHECK (nullif(btrim(phone), '') IS NOT NULL OR nullif(btrim(remote_lead_id), '') IS NOT NULL),
    CONSTRAINT leads_status_known
        CHECK (status IN ('pending', 'in_flight', 'submitted', 'invalid', 'held', 'cancelled')),
    CONSTRAINT leads_held_reason_known
        CHECK (held_reason IS NULL OR held_reason IN ('project_paused', 'project_inactive', 'token_missing',
                                                      'token_mismatch', 'bad_request', 'retries_exhausted')),
    CONSTRAINT leads_held_has_reason
        CHECK ((status = 'held') = (held_reason IS NOT NULL))
);

-- The queue: "ready pending leads of project P, oldest first", in two partial indexes.
-- New leads (never tried) are read in id order; claims order by (project_id, id), the
-- index's own columns, so the planner cannot wander onto the primary key once most rows
-- are no longer pending (PERFORMANCE.md). Leads put back for a retry carry
-- next_attempt_at and wait in a small index of their own until due.
CREATE INDEX leads_pending_new ON leadsync.leads (project_id, id)
    WHERE status = 'pending' AND next_attempt_at IS NULL;
CREATE INDEX leads_pending_retry ON leadsync.leads (project_id, next_attempt_at, id)
    WHERE status = 'pending' AND next_attempt_at IS NOT NULL;
-- Held leads by reason (report, release); small by nature.
CREATE INDEX leads_held_by_reason ON leadsync.leads (project_id, held_reason) WHERE status = 'held';

-- `leadsync lead show|resubmit`: what replaced a lead.
CREATE INDEX leads_resubmit_of ON leadsync.leads (resubmit_of) WHERE resubmit_of IS NOT NULL;

-- A hot queue table: vacuum and analyze early so dead tuples and stale statistics
-- never steer the claim query off its index.
ALTER TABLE leadsync.leads SET (
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_insert_scale_factor = 0.05,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_analyze_threshold = 1000,
    autovacuum_vacuum_cost_delay = 1
);

-- One row per HTTP request: written (committed) before it is sent, completed after.
CREATE TABLE leadsync.submission_attempts (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id        text NOT NULL,
    worker_id         text NOT NULL,
    lead_count        integer NOT NULL,
    -- The leads it carries, while it is open: a dead worker's leads are found by it.
    lead_ids          bigint[],
    started_at        timestamptz NOT NULL DEFAULT now(),
    -- A live worker renews it; past it, the attempt's worker is presumed dead.
    lease_expires_at  timestamptz,
    finished_at       timestamptz,
    http_status       integer,
    outcome           text,
    success_count     integer NOT NULL DEFAULT 0,
    error_count       integer NOT NULL DEFAULT 0,
    unconfirmed_count integer NOT NULL DEFAULT 0,
    error             text,
    CONSTRAINT submission_attempts_outcome_known
        CHECK (outcome IS NULL OR outcome IN ('ok', 'partial', 'rejected', 'batch_too_large', 'bad_request',
                                              'forbidden', 'process_not_found', 'rate_limited', 'server_error',
                                              'timeout', 'network_error', 'bad_response', 'abandoned')),
    CONSTRAINT submission_attempts_error_truncated CHECK (length(error) <= 2000)
);
CREATE INDEX submission_attempts_project_started ON leadsync.submission_attempts (project_id, started_at);
CREATE INDEX submission_attempts_open ON leadsync.submission_attempts (lease_expires_at) WHERE finished_at IS NULL;

-- Each lead's result in each attempt: history, appended, never rewritten.
-- A lead's history is read by lead (`lead show`), so that is the key; `prune` finds old
-- attempts' rows through a BRIN index, nearly free to keep since ids only grow.
CREATE TABLE leadsync.attempt_leads (
    attempt_id bigint NOT NULL REFERENCES leadsync.submission_attempts (id) ON DELETE CASCADE,
    lead_id    bigint NOT NULL,
    result     text NOT NULL,
    message    text,
    PRIMARY KEY (lead_id, attempt_id),
    CONSTRAINT attempt_leads_result_known
        CHECK (result IN ('accepted', 'rejected', 'unconfirmed', 'requeued', 'held', 'failed'))
);
CREATE INDEX attempt_leads_attempt ON leadsync.attempt_leads USING brin (attempt_id);

-- The invalid marker: one row per invalid lead, never sent again.
CREATE TABLE leadsync.invalid_leads (
    lead_id    bigint PRIMARY KEY,
    project_id text NOT NULL,
    reason     text NOT NULL,
    message    text NOT NULL,
    source     text NOT NULL,
    attempt_id bigint REFERENCES leadsync.submission_attempts (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT invalid_leads_source_known CHECK (source IN ('api', 'local')),
    CONSTRAINT invalid_leads_reason_known
        CHECK (reason IN ('api_duplicate_call', 'api_repeating_digits', 'api_already_exists', 'api_rejected',
                          'api_process_not_found', 'local_invalid_phone', 'local_repeating_digits',
                          'local_duplicate', 'local_metadata_too_large'))
);
CREATE INDEX invalid_leads_project_reason ON leadsync.invalid_leads (project_id, reason);

-- Local dedupe (SPEC §3 local_duplicate): which lead holds each normalized phone of a
-- project. Written once when a lead is first vetted, so the leads table carries no extra
-- index that every state change would have to update.
CREATE TABLE leadsync.phone_claims (
    project_id text NOT NULL,
    phone_key  text NOT NULL,
    lead_id    bigint NOT NULL,
    PRIMARY KEY (project_id, phone_key)
);

-- Leads per project and state, for `leadsync report`: an index on (project_id, status)
-- would cost every state change one more index entry and still make the report read
-- every lead. Instead each statement appends its net change here (insert-only, so
-- concurrent writers never wait on one counter row), and `compact_lead_counts()` folds
-- the rows now and then. The count is sum(delta) per (project_id, status).
CREATE TABLE leadsync.lead_counts (
    project_id text NOT NULL,
    status     text NOT NULL,
    delta      bigint NOT NULL
);
ALTER TABLE leadsync.lead_counts SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000);

CREATE FUNCTION leadsync.compact_lead_counts() RETURNS void
LANGUAGE sql AS $$
    WITH folded AS (DELETE FROM leadsync.lead_counts RETURNING project_id, status, delta)
    INSERT INTO leadsync.lead_counts (project_id, status, delta)
    SELECT project_id, status, sum(delta) FROM folded GROUP BY project_id, status HAVING sum(delta) <> 0;
$$;

-- updated_at: writers that set it themselves (the worker does) skip the function call.
CREATE FUNCTION leadsync.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE TRIGGER leads_touch_updated_at
    BEFORE UPDATE ON leadsync.leads
    FOR EACH ROW WHEN (NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at)
    EXECUTE FUNCTION leadsync.touch_updated_at();

CREATE TRIGGER projects_touch_updated_at
    BEFORE UPDATE ON leadsync.projects
    FOR EACH ROW WHEN (NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at)
    EXECUTE FUNCTION leadsync.touch_updated_at();

-- Statement-level: one projects upsert and one NOTIFY per distinct project per
-- statement, however many rows it touched. NOTIFY payloads are folded per transaction
-- by PostgreSQL, so a burst of statements in one transaction also wakes a project once.
CREATE FUNCTION leadsync.leads_after_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO leadsync.projects (project_id)
    SELECT DISTINCT project_id FROM new_leads
    ON CONFLICT (project_id) DO NOTHING;

    INSERT INTO leadsync.lead_counts (project_id, status, delta)
    SELECT project_id, status, count(*) FROM new_leads GROUP BY project_id, status;

    PERFORM pg_notify('leadsync_pending', p.project_id)
    FROM (SELECT DISTINCT project_id FROM new_leads WHERE status = 'pending') AS p;
    RETURN NULL;
END;
$$;

CREATE TRIGGER leads_after_insert
    AFTER INSERT ON leadsync.leads
    REFERENCING NEW TABLE AS new_leads
    FOR EACH STATEMENT EXECUTE FUNCTION leadsync.leads_after_insert();

-- Leads put back to pending (retry, release, resume) wake their project; a lead moved
-- to another project gets its project row.
CREATE FUNCTION leadsync.leads_after_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO leadsync.projects (project_id)
    SELECT DISTINCT n.project_id
    FROM new_leads n JOIN old_leads o ON o.id = n.id
    WHERE n.project_id IS DISTINCT FROM o.project_id
    ON CONFLICT (project_id) DO NOTHING;

    INSERT INTO leadsync.lead_counts (project_id, status, delta)
    SELECT project_id, status, sum(d) FROM (
        SELECT project_id, status, -1 AS d FROM old_leads
        UNION ALL
        SELECT project_id, status, 1 FROM new_leads
    ) AS c
    GROUP BY project_id, status HAVING sum(d) <> 0;

    PERFORM pg_notify('leadsync_pending', p.project_id)
    FROM (
        SELECT DISTINCT n.project_id
        FROM new_leads n JOIN old_leads o ON o.id = n.id
        WHERE n.status = 'pending'
          AND (o.status <> 'pending' OR n.project_id IS DISTINCT FROM o.project_id)
    ) AS p;
    RETURN NULL;
END;
$$;

CREATE TRIGGER leads_after_update
    AFTER UPDATE ON leadsync.leads
    REFERENCING OLD TABLE AS old_leads NEW TABLE AS new_leads
    FOR EACH STATEMENT EXECUTE FUNCTION leadsync.leads_after_update();

CREATE FUNCTION leadsync.leads_after_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO leadsync.lead_counts (project_id, status, delta)
    SELECT project_id, status, -count(*) FROM old_leads GROUP BY project_id, status;
    RETURN NULL;
END;
$$;

CREATE TRIGGER leads_after_delete
    AFTER DELETE ON leadsync.leads
    REFERENCING OLD TABLE AS old_leads
    FOR EACH STATEMENT EXECUTE FUNCTION leadsync.leads_after_delete();

CREATE FUNCTION leadsync.leads_after_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM leadsync.lead_counts;
    RETURN NULL;
END;
$$;

CREATE TRIGGER leads_after_truncate
    AFTER TRUNCATE ON leadsync.leads
    FOR EACH STATEMENT EXECUTE FUNCTION leadsync.leads_after_truncate();
