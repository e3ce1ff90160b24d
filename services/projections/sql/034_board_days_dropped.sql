-- A past month end kept for the trends (a day before the window of recent days kept) is
-- dropped by the first batch that changes it, not moved (kept.TotalsMover): its totals no
-- longer count, it reads as not kept, and it is kept again from a snapshot when next asked
-- for or when the projection is quiet (api.keep_before_asked). A history being loaded is all
-- backdated facts: moving eleven such days for each of them cost each fact about ten times
-- what today's move alone does (python -m bench.totals_moves). The row stays until a day is
-- next kept (under the days lock): deleting it in a batch would fail a concurrent batch's
-- move of the same day on the foreign key.
ALTER TABLE board_days ADD COLUMN stale boolean NOT NULL DEFAULT false;
