-- `leadsync console` (docs/operating.md §19): every page answers from an index, within
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

-- No index on reference_id: leads that carry one would pay an index entry at insert and at
-- every state change (12 vs 7.3 µs per status update, README, Importing leads). The lead
-- page's search by reference scans instead; docs/operating.md §19 gives the optional index.

-- The overview counts every project's requests in its window (`report`'s aggregate, the
-- last minute's rates): a range of this index instead of a scan of the whole history. One
-- entry per request, not per lead.
CREATE INDEX submission_attempts_started ON leadsync.submission_attempts (started_at);
