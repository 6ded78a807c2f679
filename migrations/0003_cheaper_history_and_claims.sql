-- attempt_leads gets one row per lead per request. Its primary key (lead_id, attempt_id)
-- put every row into a B-tree that the lead ids of 20 projects reach all over: a batch's
-- claim, history and write-back cost 15.0 µs of database CPU per lead with it, 13.7 µs
-- with a BRIN index instead (PERFORMANCE.md's method: pgbench, two clients, 1000-lead
-- batches over 2,000,000 leads in 20 projects).
-- `lead show` finds a lead's rows through the BRIN index (4 ms on 1,000,000 rows): rows
-- arrive roughly in lead id order; multi-range summaries keep a retried old lead from
-- widening its block range to all ids in between, and autosummarize summarizes each
-- range as it fills (an unsummarized range matches every lookup). Nothing inserts a lead
-- twice into one attempt (a lead is in at most one open request); the key only said so.
ALTER TABLE leadsync.attempt_leads DROP CONSTRAINT attempt_leads_pkey;
CREATE INDEX attempt_leads_lead ON leadsync.attempt_leads
    USING brin (lead_id int8_minmax_multi_ops) WITH (pages_per_range = 32, autosummarize = on);
