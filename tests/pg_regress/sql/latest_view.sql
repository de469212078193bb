-- dune_latest_results: the latest result of any query, as (query_id, params, execution_id,
-- row_number, row).
SELECT "row" ->> 'project' AS project FROM dune_latest_results WHERE query_id = 1252207 ORDER BY row_number LIMIT 3;
SELECT query_id, params, length(execution_id) AS id_length, row_number, "row" -> 'Rank' AS rank
FROM dune_latest_results WHERE query_id = 1252207 AND params = '{"Time Period": "day"}' ORDER BY row_number LIMIT 2;
SELECT query_id, count(*) FROM dune_latest_results WHERE query_id IN (1252207, 3493826) GROUP BY 1 ORDER BY 1;
SELECT query_id, count(*) FROM dune_latest_results WHERE query_id = ANY (ARRAY[3493826, 1258228]) GROUP BY 1 ORDER BY 1;
EXPLAIN (VERBOSE, COSTS OFF) SELECT "row" FROM dune_latest_results WHERE query_id = 1252207 AND params = '{"Time Period": "day"}' LIMIT 5;
-- a query id from a parameter
PREPARE latest_of(bigint) AS SELECT count(*) FROM dune_latest_results WHERE query_id = $1;
EXECUTE latest_of(3493826);
DEALLOCATE latest_of;
-- without an equality on query_id, the error shows the form to use
SELECT show_error($$SELECT * FROM dune_latest_results$$);
SELECT show_error($$SELECT * FROM dune_latest_results WHERE query_id > 5$$);
SELECT show_error($$SELECT * FROM dune_latest_results WHERE query_id = 1252207 AND params = '{"Time Period": "year"}'$$);
\d+ dune_latest_results
