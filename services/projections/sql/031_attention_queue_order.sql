-- The attention queue in the order the live page shows it (services/projections/attention/
-- queries.py, IN_ORDER): longest waiting first, a CP plan from its ninth month. The page shows
-- the first 200 open items; without this the database sorted every open item to find them
-- (every open CP plan is an item, shown or not: half a million at national scale).
CREATE INDEX attention_queue_order ON attention_items
    ((CASE WHEN kind = 'cp_plan_9_months' THEN due_on ELSE opened_on END), opened_at, item_id)
    WHERE closed_at IS NULL;
