-- Open attempts found by project (issue 14, goal 3: many tenants). Forward-only: never
-- edit an applied file.
--
-- A lane's start counts its project's open attempts (`LaneStartQueries.Read`,
-- `AttemptQueries.openCount`). The only index on open attempts was by lease
-- (`submission_attempts_open`), so the count read every entry of it and filtered by
-- project. A finished attempt's entry stays in that partial index until vacuum, and a
-- bitmap scan never marks entries dead: while 10,000 small projects drained, each lane
-- start read about 6,000 entries and 650 heap pages, 0.5 ms of the server's time per
-- project, as much as its write-back. By project, a count reads that project's few.
CREATE INDEX submission_attempts_open_project ON leadsync.submission_attempts (project_id)
    WHERE finished_at IS NULL;
