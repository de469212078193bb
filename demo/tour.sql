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
\echo
\echo '=== 7. A typed foreign table over the query (dune_type: the type Dune gives each column, which IMPORT sets):'
\echo '    WHERE, the columns used and LIMIT go to Dune.'
CREATE FOREIGN TABLE dex_trades (
    block_time timestamptz OPTIONS (dune_type 'timestamp with time zone'),
    project text OPTIONS (dune_type 'varchar'),
    usd_amount float8 OPTIONS (dune_type 'double'),
    tx_hash bytea OPTIONS (dune_type 'varbinary')
) SERVER dune OPTIONS (query_id '1258228');
CREATE TEMP TABLE my_dexes (project text PRIMARY KEY, desk text);
INSERT INTO my_dexes VALUES ('uniswap', 'amm desk'), ('curve', 'stables desk');
SELECT m.desk, d.project, count(*) AS trades, round(sum(d.usd_amount)::numeric, 2) AS usd
FROM dex_trades d JOIN my_dexes m USING (project)
WHERE d.usd_amount > 10
GROUP BY 1, 2 ORDER BY usd DESC;
EXPLAIN (VERBOSE, COSTS OFF) SELECT project, usd_amount FROM dex_trades WHERE project = 'uniswap' LIMIT 3;
\echo
\echo '=== 8. Import queries as tables, typed from their latest results.'
IMPORT FOREIGN SCHEMA dune LIMIT TO (query_1252207) FROM SERVER dune INTO public;
\d query_1252207
SELECT "Rank", project, round("Total Volume") AS total_volume FROM query_1252207 ORDER BY "Rank" LIMIT 3;
\echo
\echo '=== 9. The latest-results view: any query, as jsonb rows.'
SELECT query_id, row_number, "row" ->> 'project' AS project FROM dune_latest_results WHERE query_id = 1252207 LIMIT 3;

