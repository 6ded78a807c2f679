-- `leadsync console` (docs/operating.md §16): every page answers from an index, within
-- 100 ms on 10,000,000 leads.

-- Invalid and held lists are paged by id, newest first, filtered by project and reason: one
-- index probe per (project, reason) pair, each reading at most a page. The new indexes end
-- in the id and replace the old ones (same leading columns), so each held or invalid lead
-- still costs one entry, and accepted leads none: held leads are the only rows in the
-- partial index, invalid markers the only rows of their table.
CREATE INDEX leads_held_by_reason_id ON leadsync.leads (project_id, held_reason, id) WHERE status = 'held';
DROP INDEX leadsync.leads_held_by_reason;
CREATE INDEX invalid_leads_project_reason_lead ON leadsync.invalid_leads (project_id, reason, lead_id);
DROP INDEX leadsync.invalid_leads_project_reason;

-- The lead page finds a lead by the writer's reference_id. Only leads that carry one have an
-- entry; each such lead pays one more index entry when inserted and at each state change
-- (docs/operating.md §16).
CREATE INDEX leads_reference_id ON leadsync.leads (reference_id) WHERE reference_id IS NOT NULL;

-- The overview counts every project's requests in its window (`report`'s aggregate, the
-- last minute's rates): a range of this index instead of a scan of the whole history. One
-- entry per request, not per lead.
CREATE INDEX submission_attempts_started ON leadsync.submission_attempts (started_at);
