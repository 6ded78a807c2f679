-- One place for each rule (docs/contract.md §2). Forward-only: never edit an applied file.

-- `in_flight` was never written: a lead being sent stays `pending` and is listed in its
-- open attempt's `lead_ids`, and the report derives "in flight" from that. The allowed
-- values now say so. No row can hold 'in_flight', so the re-validation cannot fail.
ALTER TABLE leadsync.leads
    DROP CONSTRAINT leads_status_known,
    ADD CONSTRAINT leads_status_known
        CHECK (status IN ('pending', 'submitted', 'invalid', 'held', 'cancelled'));
