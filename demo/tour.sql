-- The guided tour that scripts/demo.sh runs: each statement is shown before its output.
\echo
\echo '=== 1. Run a saved Dune query (1258228, DEX trades). dune_execute returns the execution id.'
SELECT dune_execute(1258228) AS execution_id \gset
\echo execution_id = :execution_id
\echo
\echo '=== 2. Follow it: its status now, then wait until it finishes.'
SELECT dune_status(:'execution_id') ->> 'state' AS state;
SELECT s ->> 'state' AS state, s -> 'result_metadata' -> 'total_row_count' AS total_rows
FROM dune_wait(:'execution_id') s;
\echo
\echo '=== 3. Read its rows: one jsonb object per row, cast to SQL types as you like.'
SELECT (r ->> 'block_time')::timestamptz AS block_time, r ->> 'project' AS project,
       round((r ->> 'usd_amount')::numeric, 2) AS usd_amount, left(r ->> 'tx_hash', 18) || '...' AS tx_hash
FROM dune_results(:'execution_id') r
LIMIT 5;
\echo
\echo '=== 4. The latest result of another query (1252207, NFT marketplaces), without running it.'
SELECT (r ->> 'Rank')::int AS rank, r ->> 'project' AS project,
       round((r ->> 'Total Volume')::numeric) AS total_volume_usd
FROM dune_latest(1252207) r
LIMIT 5;
\echo
\echo '=== 5. Join Dune rows with a table of your own.'
CREATE TEMP TABLE my_watchlist (project text PRIMARY KEY, owner text);
INSERT INTO my_watchlist VALUES ('opensea', 'ana'), ('blur', 'bo'), ('magiceden', 'cy');
SELECT w.owner, w.project, (r ->> 'Rank')::int AS rank,
       round((r ->> '24 Hours Volume')::numeric) AS volume_24h_usd
FROM my_watchlist w
JOIN dune_latest(1252207) r ON r ->> 'project' = w.project
ORDER BY rank;
\echo
\echo '=== 6. Execute, wait and read in one call.'
SELECT count(*) AS rows FROM dune_run(1258228);
