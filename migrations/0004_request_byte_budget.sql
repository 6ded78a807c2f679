-- docs/contract.md §1, §3: a request is bounded by its encoded size as well as by its
-- lead count. A proxy in front of Uservox commonly refuses bodies over 1 MiB (413); a
-- lead too large for the budget alone is invalid locally and never sent.
ALTER TABLE leadsync.projects
    ADD COLUMN max_request_bytes integer NOT NULL DEFAULT 1048576,
    ADD CONSTRAINT projects_max_request_bytes_range CHECK (max_request_bytes BETWEEN 1024 AND 67108864);

ALTER TABLE leadsync.invalid_leads DROP CONSTRAINT invalid_leads_reason_known;
ALTER TABLE leadsync.invalid_leads ADD CONSTRAINT invalid_leads_reason_known
    CHECK (reason IN ('api_duplicate_call', 'api_repeating_digits', 'api_already_exists', 'api_rejected',
                      'api_process_not_found', 'local_invalid_phone', 'local_repeating_digits',
                      'local_duplicate', 'local_metadata_too_large', 'local_lead_too_large'));
