-- The details of the occurrences the child's whole record adds (issue 14), each in a column
-- named for what it is (as 003 did for the first kinds); a kind leaves the others NULL.
--
--   kind                          columns
--   contact                       source, outcome (nfa, advice, early_help, referral)
--   referral_outcome              outcome (nfa, assessment, s47)
--   assessment_completed          within_timescale (45 working days), duration (working days
--                                 taken), factors (CIN census codes, comma-separated)
--   s47                           (none: a strategy discussion that started a S47 enquiry)
--   s47_concluded                 outcome (nfa, cin, icpc)
--   icpc                          within_timescale (15 working days of the strategy discussion)
--   missing                       missing_kind (M, A), ended_on
--   return_interview              started_on (of the missing episode), within_timescale
--                                 (72 hours), accepted
--   escalation_advanced           stage, child_id
--   escalation_responded          child_id
--   pre_proceedings_concluded     outcome (issue, step_down), duration (weeks taken)
--   placement_move                reason (SSDA903 reason for the change)
--   homelessness_referral         (none)
--   homelessness_outcome          outcome (prevented, relieved, homeless, withdrawn)
--   tenancy_started               tenure
--   tenancy_ended                 planned
--   neet_panel                    outcome (the panel's action)
--   summer_school                 year_group

ALTER TABLE occurrences
    ADD COLUMN outcome          text,
    ADD COLUMN within_timescale boolean,
    ADD COLUMN duration         integer,
    ADD COLUMN factors          text,
    ADD COLUMN stage            text,
    ADD COLUMN missing_kind     text,
    ADD COLUMN started_on       date,
    ADD COLUMN ended_on         date,
    ADD COLUMN accepted         boolean,
    ADD COLUMN tenure           text,
    ADD COLUMN planned          boolean,
    ADD COLUMN year_group       integer;

-- The boards kept as totals whose definitions this release extends (the visits board is new;
-- timeliness and children in care gained the vulnerability cuts): their kept days are dropped
-- and kept again, from a fresh snapshot, the next time they are asked for.
DELETE FROM board_days WHERE board IN ('timeliness', 'children-in-care');
