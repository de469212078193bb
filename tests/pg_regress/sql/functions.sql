-- The documented flows against the emulator: execute -> status -> wait -> results, CSV,
-- latest results, execute-wait-read in one call, raw SQL, cancel, a join with a local table.
SELECT dune_execute(1258228) AS execution_id \gset
SELECT length(:'execution_id') AS id_length, left(:'execution_id', 2) AS id_prefix;
SELECT dune_status(:'execution_id') ->> 'state' IN ('QUERY_STATE_PENDING', 'QUERY_STATE_EXECUTING') AS running;
SELECT s ->> 'state' AS state,
       s -> 'is_execution_finished' AS finished,
       s -> 'result_metadata' -> 'column_names' AS column_names,
       s -> 'result_metadata' -> 'total_row_count' AS total_row_count
FROM dune_wait(:'execution_id') s;
-- one jsonb object per row: keys are the column names, values as Dune encodes them
SELECT r ->> 'block_time' AS block_time, r ->> 'project' AS project,
       r -> 'usd_amount' AS usd_amount, r -> 'token_bought_amount_raw' AS raw, r -> 'maker' AS maker
FROM dune_results(:'execution_id') r LIMIT 3;
SELECT count(*) AS rows, count(DISTINCT r ->> 'tx_hash') AS distinct_hashes FROM dune_results(:'execution_id') r;
SELECT array_agg(k ORDER BY k) AS keys FROM (SELECT jsonb_object_keys(r) AS k FROM dune_results(:'execution_id') r LIMIT 8) s;
-- CSV: every page under one header line
SELECT dune_results_csv(:'execution_id');
-- latest results: no execution, any parameter set, then one combination
SELECT r -> 'Rank' AS rank, r ->> 'project' AS project, r -> 'Total Volume' AS total_volume, r -> '7 Days Volume' AS week
FROM dune_latest(1252207) r LIMIT 5;
SELECT count(*) FROM dune_latest(1252207);
SELECT count(*) FROM dune_latest(1252207, '{"Time Period": "day"}');
-- execute, wait and read in one call; afterwards that combination has a latest result too
SELECT count(*) AS rows, min((r ->> 'Rank')::int) AS first, max((r ->> 'Rank')::int) AS last
FROM dune_run(1252207, '{"Time Period": "week"}') r;
SELECT count(*) FROM dune_latest(1252207, '{"Time Period": "week"}');
SELECT r ->> 'TableName' AS table_name FROM dune_run(3493826, performance => 'large', timeout => '1 minute') r LIMIT 2;
-- raw DuneSQL: query_id is 0 for such executions
SELECT dune_execute_sql('select 1 as one, ''two'' as two, 2.5 as three') AS sql_execution \gset
SELECT * FROM dune_results(:'sql_execution');
SELECT dune_status(:'sql_execution') -> 'query_id' AS query_id;
SELECT r FROM dune_results(dune_execute_sql('SELECT * FROM query_3493826 LIMIT 2', 'medium')) r;
-- join Dune rows with a local table
CREATE TABLE watchlist (project text PRIMARY KEY, analyst text);
INSERT INTO watchlist VALUES ('opensea', 'ana'), ('blur', 'bo'), ('zora', 'cy'), ('not-on-dune', 'dee');
SELECT w.project, w.analyst, (r ->> 'Rank')::int AS rank, (r ->> '24 Hours Volume')::float8 AS day_volume
FROM watchlist w JOIN dune_latest(1252207) r ON r ->> 'project' = w.project
ORDER BY rank;
-- cancel: true while it runs, false once it has ended
SELECT dune_execute(9000003) AS slow \gset
SELECT dune_cancel(:'slow') AS cancelled;
SELECT s ->> 'state' AS state, s ? 'cancelled_at' AS has_cancelled_at FROM dune_wait(:'slow') s;
SELECT dune_cancel(:'slow') AS cancelled_again;
-- dune_wait gives up after its timeout and returns the status as it is
SELECT dune_execute(9000004) AS slow2 \gset
SELECT dune_wait(:'slow2', '300 ms') ->> 'state' AS state_after_300ms;
SELECT dune_cancel(:'slow2') AS cancelled;
-- every Dune type as Dune encodes it: uint256 and int256 as strings, varbinary as 0x hex,
-- timestamps with and without fraction, arrays, maps, rows, json, and a row of NULLs
SELECT n AS row, key, value
FROM (SELECT row_number() OVER () AS n, r FROM dune_latest(9000001) r) s, jsonb_each(r)
ORDER BY n, key;
-- NULL in, NULL (or no rows) out
SELECT dune_execute(NULL) AS e, dune_status(NULL) AS s, dune_cancel(NULL) AS c, dune_wait(NULL) AS w, dune_results_csv(NULL) AS csv;
SELECT count(*) FROM dune_results(NULL);
SELECT count(*) FROM dune_latest(NULL);
-- a result Dune kept only part of (QUERY_STATE_COMPLETED_PARTIAL) is read, with a WARNING
SELECT count(*) FROM dune_latest(9000006);
