-- Spending fewer credits: the result cache, parameters as columns, local keys pushed down,
-- sizes for the planner, and the smaller reads. (setup turned the cache off on the server
-- dune, so that the other tests see every request; here a second server keeps it on.)
SELECT api_url AS api_url FROM emulator_config \gset
CREATE SERVER dune_cached FOREIGN DATA WRAPPER dune_fdw OPTIONS (api_url :'api_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER dune_cached OPTIONS (api_key 'emulator-key');
SET dune_fdw.server = 'dune_cached';
SELECT dune_cache_clear() >= 0 AS cleared;
-- EXPLAIN with execution ids masked (they differ from run to run)
CREATE FUNCTION explain_masked(sql text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF) ' || sql LOOP
        RETURN NEXT regexp_replace(line, '01[0-9A-HJKMNP-TV-Z]{24}', '<execution_id>', 'g');
    END LOOP;
END $$;

-- the options, checked
SELECT show_error($$ALTER SERVER dune_cached OPTIONS (ADD cache 'sometimes')$$);
SELECT show_error($$ALTER SERVER dune_cached OPTIONS (ADD cache_max_mb '0')$$);
SELECT show_error($$ALTER SERVER dune_cached OPTIONS (ADD ignore_max_datapoints_per_request 'maybe')$$);
SELECT show_error($$ALTER SERVER dune_cached OPTIONS (ADD max_reads_per_scan '-1')$$);
ALTER SERVER dune_cached OPTIONS (ADD cache 'on', ADD cache_max_mb '64');

-- an execution read twice: the second read is served from the cache, with no request
SELECT set_config('test.tables_execution', dune_execute(3493826), false) IS NOT NULL AS executed;
DO $$ BEGIN
    EXECUTE format('CREATE FOREIGN TABLE cached_tables (ct bigint, "TableName" text) SERVER dune_cached OPTIONS (execution_id %L)',
                   current_setting('test.tables_execution'));
END $$;
SELECT count(*) FROM dune_wait(current_setting('test.tables_execution'));
SELECT emulator('reset') IS NOT NULL AS reset;
SELECT sum(ct), count(*) FROM cached_tables;
SELECT e -> 'results_requests' AS results_requests, e -> 'datapoints_served' AS datapoints FROM emulator() e;
SELECT emulator('reset') IS NOT NULL AS reset;
SELECT sum(ct), count(*) FROM cached_tables;
-- a filter, a limit: narrower reads, from the same entry
SELECT ct FROM cached_tables WHERE ct > 100 ORDER BY 1 LIMIT 2;
SELECT e -> 'results_requests' AS results_requests, e -> 'datapoints_served' AS datapoints FROM emulator() e;
SELECT rows, complete, columns, filters, sort_by, bytes > 0 AS has_bytes, last_used <= now() AS used
FROM dune_cache();
SELECT explain_masked('SELECT ct FROM cached_tables');
-- another column is not held: read from Dune
SELECT count(*) FROM cached_tables WHERE "TableName" LIKE 'dex%';
SELECT e -> 'results_requests' AS results_requests FROM emulator() e;
-- emptied: the next read goes to Dune again, for the same datapoints as the first
SELECT dune_cache_clear();
SELECT emulator('reset') IS NOT NULL AS reset;
SELECT sum(ct), count(*) FROM cached_tables;
SELECT e -> 'results_requests' AS results_requests, e -> 'datapoints_served' AS datapoints FROM emulator() e;
-- the functions share the cache: dune_results of an execution held costs nothing either
SELECT emulator('reset') IS NOT NULL AS reset;
SELECT count(*) FROM dune_results(current_setting('test.tables_execution'));
SELECT count(*) FROM dune_results(current_setting('test.tables_execution'));
SELECT e -> 'results_requests' AS results_requests FROM emulator() e;

-- a latest result: checked with one request of one datapoint, then served from the cache
CREATE FOREIGN TABLE cached_trades (project text, usd_amount float8) SERVER dune_cached OPTIONS (query_id '1258228');
SELECT count(project), count(usd_amount) FROM cached_trades;
SELECT emulator('reset') IS NOT NULL AS reset;
SELECT count(*), round(sum(usd_amount)::numeric, 2) FROM cached_trades WHERE project = 'uniswap';
SELECT e -> 'results_requests' AS results_requests, e -> 'datapoints_served' AS datapoints FROM emulator() e;
SELECT p ->> 1 AS columns, l ->> 'query' LIKE '%limit=1&%' AS one_row
FROM jsonb_array_elements(emulator('log') -> 'log') l, jsonb_array_elements(l -> 'params') p
WHERE p ->> 0 = 'columns';
SELECT explain_masked('SELECT project FROM cached_trades');
-- a plain EXPLAIN sends nothing
SELECT emulator('reset') IS NOT NULL AS reset;
EXPLAIN (COSTS OFF) SELECT project FROM cached_trades;
SELECT e -> 'total_requests' AS requests FROM emulator() e;

-- parameters as columns: WHERE start_date = … chooses the parameter, the column returns it
CREATE FOREIGN TABLE daily_volume (
    day date, project text, volume float8,
    start_date timestamp OPTIONS (param 'start_date')
) SERVER dune_cached OPTIONS (query_id '9000010', mode 'execute');
SELECT day, project, volume, start_date FROM daily_volume WHERE start_date = '2024-03-09' ORDER BY 1, 2;
EXPLAIN (VERBOSE, COSTS OFF) SELECT day, volume FROM daily_volume WHERE start_date = '2024-03-09' AND project = 'curve';
-- unrestricted, the column holds the table's params (here none: NULL, Dune's default)
SELECT count(*), count(start_date) FROM daily_volume;
-- from a subquery: the incremental load of docs/recipes.md
CREATE TABLE volume_history (day date, project text, volume float8, PRIMARY KEY (day, project));
INSERT INTO volume_history SELECT day, project, volume FROM daily_volume WHERE start_date = '2024-03-08';
INSERT INTO volume_history SELECT day, project, volume FROM daily_volume
WHERE start_date = (SELECT max(day) FROM volume_history)
ON CONFLICT (day, project) DO UPDATE SET volume = excluded.volume;
SELECT day, count(*) FROM volume_history GROUP BY 1 ORDER BY 1;
-- from a join: one read per value (a nested loop over the values)
SELECT v.d::date AS start_date, count(*) AS rows
FROM (VALUES ('2024-03-09'::timestamp), ('2024-03-10')) v(d) JOIN daily_volume t ON t.start_date = v.d
GROUP BY 1 ORDER BY 1;
EXPLAIN (COSTS OFF) SELECT count(*)
FROM (VALUES ('2024-03-09'::timestamp), ('2024-03-10')) v(d) JOIN daily_volume t ON t.start_date = v.d;
-- the bound on reads per scan
ALTER FOREIGN TABLE daily_volume OPTIONS (ADD max_reads_per_scan '1');
SELECT show_error($$SELECT count(*) FROM (VALUES ('2024-03-09'::timestamp), ('2024-03-10')) v(d)
                    JOIN daily_volume t ON t.start_date = v.d$$);
ALTER FOREIGN TABLE daily_volume OPTIONS (DROP max_reads_per_scan);
-- compared with NULL: no row, nothing read
SELECT count(*) FROM daily_volume WHERE start_date = NULL::timestamp;
-- not an equality: refused rather than reading another parameter set
SELECT show_error($$SELECT count(*) FROM daily_volume WHERE start_date > '2024-03-01'$$);
-- a parameter column needs a saved query
CREATE FOREIGN TABLE sql_with_param (n bigint, p text OPTIONS (param 'p')) SERVER dune_cached OPTIONS (sql 'select 1 as n');
SELECT show_error($$SELECT * FROM sql_with_param$$);
-- IMPORT FOREIGN SCHEMA adds a column per parameter
CREATE SCHEMA credits_import;
IMPORT FOREIGN SCHEMA dune LIMIT TO (query_9000010, query_1252207) FROM SERVER dune_cached INTO credits_import;
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attfdwoptions
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
WHERE c.relnamespace = 'credits_import'::regnamespace AND a.attnum > 0
ORDER BY 1, a.attnum;

-- local keys pushed down: an array from a subquery is sent as an IN list, evaluated once
CREATE TABLE wanted (project text PRIMARY KEY);
INSERT INTO wanted VALUES ('uniswap'), ('curve');
CREATE FOREIGN TABLE trades_nocache (project text OPTIONS (dune_type 'varchar'), usd_amount float8)
    SERVER dune OPTIONS (query_id '1258228');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT project, count(*) FROM trades_nocache WHERE project = ANY(ARRAY(SELECT project FROM wanted)) GROUP BY 1;
SELECT emulator('reset') IS NOT NULL AS reset;
SELECT project, count(*) FROM trades_nocache WHERE project = ANY(ARRAY(SELECT project FROM wanted)) GROUP BY 1 ORDER BY 1;
SELECT p ->> 1 AS filters
FROM jsonb_array_elements(emulator('log') -> 'log') l, jsonb_array_elements(l -> 'params') p
WHERE p ->> 0 = 'filters';
-- an empty array matches nothing, and says so to Dune
SELECT count(*) FROM trades_nocache WHERE project = ANY(ARRAY(SELECT project FROM wanted WHERE false));
-- a prepared statement's array parameter
PREPARE by_projects(text[]) AS SELECT count(*) FROM trades_nocache WHERE project = ANY($1);
EXECUTE by_projects(ARRAY['curve', 'balancer']);
DEALLOCATE by_projects;
-- a stable expression is evaluated once and sent as a constant
CREATE FOREIGN TABLE recent_trades (block_time timestamptz OPTIONS (dune_type 'timestamp with time zone'), project text)
    SERVER dune OPTIONS (query_id '1258228');
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM recent_trades WHERE block_time > now() - interval '1000 years';
SELECT count(*) FROM recent_trades WHERE block_time > now() - interval '1000 years';

-- sizes for the planner: ANALYZE samples with sample_count (one request, the sample's cells)
CREATE FOREIGN TABLE synth_trades (
    block_number bigint OPTIONS (dune_type 'bigint'),
    project text OPTIONS (dune_type 'varchar'),
    amount_usd float8 OPTIONS (dune_type 'double')
) SERVER dune OPTIONS (query_id '9100001', params '{"rows": "20000"}');
SELECT count(*) FROM dune_run(9100001, '{"rows": "20000"}');
SELECT emulator('reset') IS NOT NULL AS reset;
ANALYZE synth_trades;
SELECT e -> 'results_requests' AS results_requests, (e ->> 'rows_served')::int <= 20000 AS at_most_the_sample,
       e -> 'datapoints_served' AS datapoints FROM emulator() e;
SELECT reltuples FROM pg_class WHERE relname = 'synth_trades';
SELECT attname, n_distinct FROM pg_stats WHERE tablename = 'synth_trades' ORDER BY 1;
-- a table that runs a query is not sampled (ANALYZE would run it)
SELECT show_error($$ANALYZE daily_volume$$);
-- with the size known, a join with 3 local keys reads Dune once per key, filtered by it
CREATE TABLE blocks (block_number bigint PRIMARY KEY);
INSERT INTO blocks SELECT 18000000 + g * 997 FROM generate_series(1, 3) g;
ANALYZE blocks;
SELECT explain_masked('SELECT b.block_number, s.project FROM blocks b JOIN synth_trades s USING (block_number)');
SELECT emulator('reset') IS NOT NULL AS reset;
SELECT b.block_number, s.project FROM blocks b JOIN synth_trades s USING (block_number);
SELECT e -> 'results_requests' AS results_requests, e -> 'datapoints_served' AS datapoints FROM emulator() e;

-- the smaller reads: the latest result as CSV, a latest result refreshed when too old
SELECT dune_latest_csv(3493826);
SELECT show_error($$SELECT dune_latest_csv(0)$$);
SELECT emulator('reset') IS NOT NULL AS reset;
-- a parameter set never run has no latest result: with max_age, it runs
SELECT count(*) FROM dune_latest(9000010, '{"start_date": "2024-03-07 00:00:00"}', max_age => '1 hour');
SELECT e -> 'executions_created' AS executions FROM emulator() e;
-- now it has one, fresh enough: read, not run
SELECT count(*) FROM dune_latest(9000010, '{"start_date": "2024-03-07 00:00:00"}', max_age => '1 hour');
SELECT e -> 'executions_created' AS executions FROM emulator() e;
SELECT show_error($$SELECT count(*) FROM dune_latest(9000010, '{"start_date": "2024-03-06 00:00:00"}')$$);
ALTER SERVER dune_cached OPTIONS (ADD ignore_max_datapoints_per_request 'on');
SELECT emulator('reset') IS NOT NULL AS reset;
SELECT dune_cache_clear() >= 0 AS cleared;
SELECT count(*) FROM dune_latest(3493826);
SELECT count(*) FILTER (WHERE l ->> 'query' LIKE '%ignore_max_datapoints_per_request=true%') AS lifted
FROM jsonb_array_elements(emulator('log') -> 'log') l WHERE l ->> 'route' = 'latest';

-- ANALYZE VERBOSE says what it read; a table with parameter columns is sampled without them
ANALYZE VERBOSE synth_trades;
SELECT emulator('reset') IS NOT NULL AS reset;
ANALYZE credits_import.query_9000010;
SELECT e -> 'results_requests' AS results_requests FROM emulator() e;
SELECT p ->> 1 AS columns FROM jsonb_array_elements(emulator('log') -> 'log') l, jsonb_array_elements(l -> 'params') p
WHERE p ->> 0 = 'columns';
-- a NULL outer key matches nothing: nothing is read for it
SELECT emulator('reset') IS NOT NULL AS reset;
SELECT count(*) FROM (VALUES (NULL::bigint), (18000997)) v(b) JOIN synth_trades s ON s.block_number = v.b;
SELECT e -> 'results_requests' AS results_requests FROM emulator() e;
-- a stable expression inside an OR is left to PostgreSQL (it might never be evaluated)
SELECT explain_masked($$SELECT count(*) FROM recent_trades WHERE project = 'curve' OR block_time > now() - interval '1 day'$$);
-- a join condition on a parameter column other than = is refused
SELECT show_error($$SELECT count(*) FROM (VALUES ('2024-03-09'::timestamp)) v(d) JOIN daily_volume t ON t.start_date > v.d$$);
-- a timestamptz parameter column, in a session that is not in UTC: sent and returned in UTC
CREATE FOREIGN TABLE daily_volume_tz (day date, start_at timestamptz OPTIONS (param 'start_date'))
    SERVER dune_cached OPTIONS (query_id '9000010', mode 'execute');
SET TimeZone = 'America/New_York';
SELECT count(*), min(start_at) FROM daily_volume_tz WHERE start_at = '2024-03-09 00:00:00+00';
RESET TimeZone;
-- the latest-results table takes its query ids from constants (a custom plan), and asks for
-- them rather than read nothing when they come as an array parameter (a generic plan)
PREPARE latest_of(bigint[]) AS SELECT count(*) FROM dune_latest_results WHERE query_id = ANY($1);
EXECUTE latest_of('{1252207,3493826}');
SET plan_cache_mode = force_generic_plan;
SELECT show_error($$EXECUTE latest_of('{1252207,3493826}')$$);
RESET plan_cache_mode;
DEALLOCATE latest_of;

RESET dune_fdw.server;
