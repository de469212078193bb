-- The wrapper, the server `dune` that the dune_* functions use by default, and comments.
CREATE FOREIGN DATA WRAPPER dune_fdw
    HANDLER dune_fdw_handler
    VALIDATOR dune_fdw_validator;
COMMENT ON FOREIGN DATA WRAPPER dune_fdw IS 'Dune Analytics: saved queries, raw DuneSQL and their results';

-- The server `dune` and the foreign table `dune_latest_results` are made here but do not belong
-- to the extension: like servers users create, pg_dump then saves them with their options,
-- user mappings (keys) and grants, which it never does for an extension's own server. In a
-- restore (pg_restore, or a pg_dump script: both turn row_security off) the dump brings them.
DO $bootstrap$
BEGIN
    IF NOT current_setting('row_security')::boolean OR current_setting('application_name') = 'pg_restore' THEN
        RAISE NOTICE 'dune_fdw: row_security is off, as in a restore: the server dune and dune_latest_results are left to the dump';
        RETURN;
    END IF;

    IF NOT EXISTS (SELECT FROM pg_foreign_server WHERE srvname = 'dune') THEN
        CREATE SERVER dune FOREIGN DATA WRAPPER dune_fdw
            OPTIONS (api_url 'https://api.dune.com/api');
        COMMENT ON SERVER dune IS 'The Dune API (api.dune.com). Give each role its key: CREATE USER MAPPING FOR CURRENT_USER SERVER dune OPTIONS (api_key ''...'')';
        ALTER EXTENSION dune_fdw DROP SERVER dune;
    END IF;
    -- The latest-results view: SELECT "row" FROM dune_latest_results WHERE query_id = 1252207.
    IF to_regclass('dune_latest_results') IS NULL THEN
        CREATE FOREIGN TABLE dune_latest_results (
            query_id bigint,
            params jsonb,
            execution_id text,
            row_number bigint,
            "row" jsonb
        ) SERVER dune OPTIONS (view 'latest_results');
        COMMENT ON FOREIGN TABLE dune_latest_results IS 'The latest result of Dune queries, one row per result row: WHERE query_id = <id> [AND params = ''{...}'']';
        ALTER EXTENSION dune_fdw DROP FOREIGN TABLE dune_latest_results;
    END IF;
END
$bootstrap$;

-- What \df+ dune_* says about each function.
COMMENT ON FUNCTION dune_execute(bigint, jsonb, text) IS 'Starts an execution of a saved Dune query (params: {"name": value}; performance: medium, large or free); returns its execution id';
COMMENT ON FUNCTION dune_execute_sql(text, text) IS 'Starts an execution of raw DuneSQL; returns its execution id';
COMMENT ON FUNCTION dune_status(text) IS 'The status of a Dune execution, as Dune returns it';
COMMENT ON FUNCTION dune_wait(text, interval) IS 'Waits until a Dune execution ends or timeout passes (polling politely); returns its last status';
COMMENT ON FUNCTION dune_results(text) IS 'The rows of a Dune execution''s result, one jsonb object per row, streamed page by page; waits for the execution first';
COMMENT ON FUNCTION dune_results_csv(text) IS 'The result of a Dune execution as one CSV text (for small results; use dune_results for large ones)';
COMMENT ON FUNCTION dune_cancel(text) IS 'Cancels a Dune execution; true if Dune cancelled it, false if it had already ended';
COMMENT ON FUNCTION dune_latest(bigint, jsonb) IS 'The latest result of a saved Dune query (for these params), one jsonb object per row; runs nothing';
COMMENT ON FUNCTION dune_latest(bigint, jsonb, interval) IS 'The latest result of a saved Dune query, unless older than max_age or missing: then the query is executed first (billed)';
COMMENT ON FUNCTION dune_latest_csv(bigint, jsonb) IS 'The latest result of a saved Dune query as one CSV text; runs nothing';
COMMENT ON FUNCTION dune_cache() IS 'What the result cache holds for your Dune account: execution, query, rows, bytes, the request it answered, last use';
COMMENT ON FUNCTION dune_cache_clear() IS 'Empties the result cache of your Dune account; the number of entries removed';
COMMENT ON FUNCTION dune_query(bigint) IS 'A saved Dune query as Dune describes it: name, SQL, parameters, flags, owner';
COMMENT ON FUNCTION dune_queries() IS 'The saved queries of your Dune account';
COMMENT ON FUNCTION dune_create_query(text, text, jsonb, boolean, text) IS 'Saves a new Dune query (Read/Write key); its id';
COMMENT ON FUNCTION dune_update_query(bigint, text, text, jsonb, text) IS 'Changes a saved Dune query; NULL leaves a field as it is (Read/Write key)';
COMMENT ON FUNCTION dune_archive_query(bigint) IS 'Archives a saved Dune query (Read/Write key)';
COMMENT ON FUNCTION dune_unarchive_query(bigint) IS 'Brings an archived Dune query back (Read/Write key)';
COMMENT ON FUNCTION dune_make_private(bigint, boolean) IS 'Makes a saved Dune query private, or public with false (Read/Write key)';
COMMENT ON FUNCTION dune_create_table(text, text, jsonb, boolean, text) IS 'Creates an empty Dune table from a JSON schema (Read/Write key); Dune''s answer';
COMMENT ON FUNCTION dune_create_table(text, text, regclass, boolean, text) IS 'Creates an empty Dune table with the columns of a local table, view or foreign table (Read/Write key)';
COMMENT ON FUNCTION dune_upload_csv(text, text, boolean) IS 'Creates or replaces the Dune table dataset_<table_name> from a CSV text with a header row (Read/Write key)';
COMMENT ON FUNCTION dune_clear_table(text, text) IS 'Deletes every row of a Dune table, keeping the table; cannot be rolled back (Read/Write key)';
COMMENT ON FUNCTION dune_drop_table(text, text) IS 'Deletes a Dune table and its rows; cannot be rolled back (Read/Write key)';
COMMENT ON FUNCTION dune_tables() IS 'The account''s uploaded Dune tables: full name, privacy, size in bytes, times, columns';
COMMENT ON FUNCTION dune_usage(date, date) IS 'The credits used and included by billing period, and the storage used and allowed';
COMMENT ON FUNCTION dune_run(bigint, jsonb, text, interval) IS 'Executes a saved Dune query, waits and returns its rows as jsonb; cancels the execution on Dune if the statement gives up';
COMMENT ON FUNCTION dune_in_flight() IS 'The Dune calls in flight in this server: backend pid, execution, state, queue position, rows read, what the execution cost (other roles'' calls only for pg_read_all_stats)';
COMMENT ON FUNCTION dune_fdw_handler() IS 'The foreign-data wrapper handler of dune_fdw';
COMMENT ON FUNCTION dune_fdw_validator(text[], oid) IS 'Checks the options of dune_fdw servers, user mappings, foreign tables and columns';
