-- events_horizon() (004) is now the one horizon of 005, which the partners' HTTP feed shares:
-- one definition to keep right, not two.
CREATE OR REPLACE FUNCTION events_horizon() RETURNS xid8 LANGUAGE sql VOLATILE AS $$
    SELECT this_databases_horizon()
$$;
