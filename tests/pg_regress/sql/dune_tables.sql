-- Dune's own tables as foreign tables: IMPORT from Dune's catalog, and scans that run one
-- DuneSQL statement with the columns, quals, ORDER BY, LIMIT and aggregates Dune can compute
-- with PostgreSQL's meaning (the emulator runs it on its small dex.trades and tokens.erc20).
SET client_min_messages = warning;
CREATE SCHEMA dune_dex;
CREATE SCHEMA dune_tokens;
SELECT emulator('reset') IS NOT NULL AS reset;
IMPORT FOREIGN SCHEMA "dex" LIMIT TO (trades) FROM SERVER dune INTO dune_dex;
IMPORT FOREIGN SCHEMA tokens FROM SERVER dune INTO dune_tokens OPTIONS (performance 'medium');
\d+ dune_dex.trades
\det+ dune_tokens.*
-- the catalog was read (free), nothing was executed
SELECT e -> 'requests' -> 'datasets_get' AS get, e -> 'requests' -> 'datasets_list' AS list,
       e -> 'executions_created' AS executions FROM emulator() e;
-- what cannot be imported
SELECT show_error($$IMPORT FOREIGN SCHEMA "dex" LIMIT TO (nothing) FROM SERVER dune INTO dune_dex$$);
SELECT show_error($$IMPORT FOREIGN SCHEMA "dex" FROM SERVER dune INTO dune_dex OPTIONS (query_id '1')$$);
SELECT show_error($$IMPORT FOREIGN SCHEMA "dex" FROM SERVER dune INTO dune_dex OPTIONS (mode 'execute')$$);

-- EXPLAIN VERBOSE shows the DuneSQL; a plain EXPLAIN runs nothing
SELECT emulator('reset') IS NOT NULL AS reset;
EXPLAIN (COSTS OFF) SELECT project FROM dune_dex.trades WHERE blockchain = 'ethereum';
EXPLAIN (VERBOSE, COSTS OFF)
SELECT project, amount_usd, taker FROM dune_dex.trades
WHERE blockchain = 'ethereum' AND block_time >= '2024-02-01' AND taker <> '\x00'::bytea
  AND token_bought_amount_raw > 1000 AND amount_usd BETWEEN 10 AND 1e6
ORDER BY amount_usd DESC NULLS LAST LIMIT 5 OFFSET 2;
-- the example of the issue: a stable expression is a parameter of the statement, its value
-- sent as a typed literal when the scan starts
EXPLAIN (VERBOSE, COSTS OFF)
SELECT project, sum(amount_usd) FROM dune_dex.trades
WHERE block_time > now() - interval '1 day' AND blockchain = 'ethereum' GROUP BY 1;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT blockchain, block_date, count(*), count(DISTINCT taker), min(block_time), max(block_number),
       sum(token_bought_amount_raw), avg(amount_usd)
FROM dune_dex.trades WHERE project IN ('uniswap', 'curve') GROUP BY blockchain, block_date;
-- an expression over aggregates: the aggregates are computed on Dune, the rest here
EXPLAIN (VERBOSE, COSTS OFF)
SELECT project, round(sum(amount_usd)) AS usd, count(*) * 2 FROM dune_dex.trades
WHERE blockchain = 'ethereum' GROUP BY project;
-- what stays in PostgreSQL: a text sort (its order is the collation's), text min/max, HAVING,
-- an avg of integers (Trino's is a double), a qual Dune cannot evaluate (then the grouping too)
EXPLAIN (VERBOSE, COSTS OFF) SELECT symbol FROM dune_tokens.erc20 ORDER BY symbol LIMIT 3;
EXPLAIN (VERBOSE, COSTS OFF) SELECT min(project) FROM dune_dex.trades;
EXPLAIN (VERBOSE, COSTS OFF) SELECT project, count(*) FROM dune_dex.trades GROUP BY 1 HAVING count(*) > 500;
EXPLAIN (VERBOSE, COSTS OFF) SELECT avg(block_number) FROM dune_dex.trades;
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM dune_dex.trades WHERE btrim(project) = 'curve';
-- a join of two Dune tables runs as one statement, with the grouping above it
EXPLAIN (VERBOSE, COSTS OFF)
SELECT e.symbol, count(*) FROM dune_dex.trades t JOIN dune_tokens.erc20 e
  ON e.contract_address = t.token_bought_address AND e.blockchain = t.blockchain
WHERE t.blockchain = 'arbitrum' GROUP BY e.symbol;
-- LEFT JOIN: the second table's conditions go into ON
EXPLAIN (VERBOSE, COSTS OFF)
SELECT t.project, e.symbol FROM dune_dex.trades t LEFT JOIN dune_tokens.erc20 e
  ON e.contract_address = t.token_bought_address AND e.decimals = 6
WHERE t.block_date = '2024-01-02';
-- not pushed: a join clause other than an equality, a condition PostgreSQL keeps, FULL JOIN
EXPLAIN (VERBOSE, COSTS OFF)
SELECT t.project, e.symbol FROM dune_dex.trades t JOIN dune_tokens.erc20 e
  ON e.contract_address = t.token_bought_address AND e.decimals < t.evt_index;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT t.project, e.symbol FROM dune_dex.trades t JOIN dune_tokens.erc20 e
  ON e.contract_address = t.token_bought_address WHERE btrim(e.symbol) = 'weth';
EXPLAIN (VERBOSE, COSTS OFF)
SELECT t.project, e.symbol FROM dune_dex.trades t FULL JOIN dune_tokens.erc20 e
  ON e.contract_address = t.token_bought_address;
SELECT e -> 'executions_created' AS executions FROM emulator() e;

-- the rows
SELECT count(*) FROM dune_dex.trades;
SELECT project, count(*), round(sum(amount_usd)) AS usd FROM dune_dex.trades
WHERE blockchain = 'ethereum' AND block_time < '2024-01-15' GROUP BY project ORDER BY 2 DESC, 1 LIMIT 4;
SELECT block_number, evt_index, project FROM dune_dex.trades
WHERE blockchain = 'base' ORDER BY block_number DESC, evt_index LIMIT 3;
SELECT count(*), sum(token_bought_amount_raw) FROM dune_dex.trades WHERE project = 'no such project';
SELECT decimals, count(*) FROM dune_tokens.erc20 GROUP BY decimals ORDER BY decimals;
-- each of these statements is one execution (the first one reads all 5,000 rows, the grouped
-- ones a few rows each)
SELECT e -> 'executions_created' AS executions, e -> 'rows_served' AS rows FROM emulator() e;
-- a grouped statement answers one row even when a NULL parameter keeps none (generic plan)
PREPARE by_project(text) AS SELECT count(*), sum(block_number) FROM dune_dex.trades WHERE project = $1;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE by_project(NULL);
EXECUTE by_project(NULL);
EXECUTE by_project('curve');
PREPARE below(float8) AS SELECT count(*) FROM dune_dex.trades WHERE amount_usd < $1;
SELECT show_error($$EXECUTE below('Infinity')$$);
EXECUTE below(100);
-- an infinite bound on a timestamp or a number Dune holds finitely: every row, or none
PREPARE between(timestamptz, timestamptz) AS
  SELECT count(*) FROM dune_dex.trades WHERE block_time >= $1 AND block_time < $2;
EXECUTE between('2024-03-01', 'infinity');
EXECUTE between('-infinity', '2024-01-02');
EXECUTE between('infinity', 'infinity');
SELECT count(*) FILTER (WHERE block_time >= '2024-03-01') AS since,
       count(*) FILTER (WHERE block_time < '2024-01-02') AS before
FROM (SELECT * FROM dune_dex.trades OFFSET 0) t;
PREPARE raw_below(numeric) AS SELECT count(*) FROM dune_dex.trades WHERE token_bought_amount_raw < $1;
EXECUTE raw_below('Infinity');
EXECUTE raw_below('NaN');
EXECUTE raw_below('-Infinity');
SELECT count(token_bought_amount_raw) AS not_null FROM (SELECT * FROM dune_dex.trades OFFSET 0) t;
-- a NULL parameter inside OR: that branch keeps no row
PREPARE either(text) AS SELECT count(*) FROM dune_dex.trades WHERE project = $1 OR blockchain = 'base';
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE either(NULL);
EXECUTE either(NULL);
SELECT count(*) FROM (SELECT * FROM dune_dex.trades OFFSET 0) t WHERE blockchain = 'base';
DEALLOCATE either;
DEALLOCATE between;
DEALLOCATE raw_below;
RESET plan_cache_mode;
DEALLOCATE by_project;
DEALLOCATE below;
-- GROUP BY without an aggregate
EXPLAIN (VERBOSE, COSTS OFF)
SELECT blockchain FROM dune_dex.trades WHERE blockchain LIKE 'a%' GROUP BY blockchain;
SELECT blockchain FROM dune_dex.trades WHERE blockchain LIKE 'a%' GROUP BY blockchain ORDER BY 1;

-- a LATERAL subquery reads the table once per outer value, within max_reads_per_scan
CREATE TEMP TABLE picks AS SELECT * FROM (VALUES ('uniswap'), ('curve'), ('balancer')) v(project);
ALTER FOREIGN TABLE dune_dex.trades OPTIONS (ADD max_reads_per_scan '2');
SELECT show_error($$SELECT p.project, l.n FROM picks p, LATERAL (
  SELECT count(*) AS n FROM dune_dex.trades t WHERE t.project = p.project AND t.blockchain = 'base') l$$);
ALTER FOREIGN TABLE dune_dex.trades OPTIONS (DROP max_reads_per_scan);
SELECT p.project, l.n FROM picks p, LATERAL (
  SELECT count(*) AS n FROM dune_dex.trades t WHERE t.project = p.project AND t.blockchain = 'base') l
ORDER BY 1;
-- a pushed join and grouping inside a LATERAL subquery, run once per outer row
SELECT p.project, ss.n, ss.symbols FROM picks p LEFT JOIN LATERAL (
  SELECT count(*) AS n, count(DISTINCT e.symbol) AS symbols, p.project AS ly
  FROM dune_dex.trades tr JOIN dune_tokens.erc20 e ON e.contract_address = tr.token_bought_address
  WHERE tr.project = p.project AND tr.blockchain = 'base') ss ON true
ORDER BY 1;
SELECT p.project, ss.n, ss.symbols FROM picks p LEFT JOIN LATERAL (
  SELECT count(*) AS n, count(DISTINCT e.symbol) AS symbols, p.project AS ly
  FROM (SELECT * FROM dune_dex.trades OFFSET 0) tr
  JOIN (SELECT * FROM dune_tokens.erc20 OFFSET 0) e ON e.contract_address = tr.token_bought_address
  WHERE tr.project = p.project AND tr.blockchain = 'base') ss ON true
ORDER BY 1;

-- a pushed join gives the rows of the join computed here
SELECT count(*), count(e.symbol), count(DISTINCT e.symbol) FROM (
  SELECT t.project, e.symbol FROM dune_dex.trades t LEFT JOIN dune_tokens.erc20 e
    ON e.contract_address = t.token_bought_address AND e.decimals = 6
  WHERE t.block_date = '2024-01-02') e;
SELECT count(*), count(e.symbol), count(DISTINCT e.symbol) FROM (
  SELECT t.project, e.symbol FROM (SELECT * FROM dune_dex.trades OFFSET 0) t
  LEFT JOIN (SELECT * FROM dune_tokens.erc20 OFFSET 0) e
    ON e.contract_address = t.token_bought_address AND e.decimals = 6
  WHERE t.block_date = '2024-01-02') e;

-- max_age: a scan reads the execution of the same statement that ended within it (the
-- result cache remembers it; the tests run with the cache off, so it is turned on here)
ALTER SERVER dune OPTIONS (SET cache 'on');
ALTER FOREIGN TABLE dune_tokens.erc20 OPTIONS (ADD max_age '1 hour');
SELECT emulator('reset') IS NOT NULL AS reset;
SELECT count(*) FROM dune_tokens.erc20 WHERE decimals = 18;
SELECT count(*) FROM dune_tokens.erc20 WHERE decimals = 18;
SELECT count(*) FROM dune_tokens.erc20 WHERE decimals = 6;
SELECT e -> 'executions_created' AS executions FROM emulator() e;
ALTER FOREIGN TABLE dune_tokens.erc20 OPTIONS (DROP max_age);
SELECT count(*) FROM dune_tokens.erc20 WHERE decimals = 18;
SELECT e -> 'executions_created' AS executions FROM emulator() e;
SELECT dune_cache_clear() >= 0 AS cleared;
ALTER SERVER dune OPTIONS (SET cache 'off');
SELECT show_error($$CREATE FOREIGN TABLE s (x int) SERVER dune OPTIONS (sql 'SELECT 1 AS x', max_age '1 day')$$);

-- require_filter: a scan that restricts none of the columns ends before anything is run
SELECT emulator('reset') IS NOT NULL AS reset;
ALTER FOREIGN TABLE dune_dex.trades OPTIONS (ADD require_filter 'block_time, block_date');
SELECT show_error('SELECT count(*) FROM dune_dex.trades');
SELECT show_error($$SELECT count(*) FROM dune_dex.trades WHERE project = 'curve' LIMIT 1$$);
SELECT show_error($$SELECT count(*) FROM dune_dex.trades WHERE lower(block_time::text) > '2024'$$);
SELECT count(*) FROM dune_dex.trades WHERE block_date = '2024-01-02';
SELECT count(*) FROM dune_dex.trades WHERE block_time >= '2024-03-31' OR block_date < '2024-01-02';
PREPARE since(timestamptz) AS SELECT count(*) FROM dune_dex.trades WHERE block_time >= $1;
EXECUTE since('2024-03-30');
SELECT e -> 'executions_created' AS executions FROM emulator() e;
-- the server's rule applies to the tables that have the column; a table's own overrides it
ALTER FOREIGN TABLE dune_dex.trades OPTIONS (DROP require_filter);
ALTER SERVER dune OPTIONS (ADD require_filter 'block_time');
SELECT show_error('SELECT count(*) FROM dune_dex.trades');
SELECT count(*) FROM dune_tokens.erc20;
ALTER FOREIGN TABLE dune_dex.trades OPTIONS (ADD require_filter '');
SELECT count(*) FROM dune_dex.trades;
ALTER SERVER dune OPTIONS (DROP require_filter);
SELECT show_error($$ALTER FOREIGN TABLE dune_dex.trades OPTIONS (SET require_filter 'no_such_column')$$);
SELECT show_error('SELECT count(*) FROM dune_dex.trades');
ALTER FOREIGN TABLE dune_dex.trades OPTIONS (DROP require_filter);
-- in a pushed join, each table's rule is checked on its own conditions
ALTER FOREIGN TABLE dune_tokens.erc20 OPTIONS (ADD require_filter 'blockchain');
SELECT show_error($$SELECT t.project, e.symbol FROM dune_dex.trades t JOIN dune_tokens.erc20 e
  ON e.contract_address = t.token_bought_address WHERE t.blockchain = 'base'$$);
SELECT count(e.symbol) FROM dune_dex.trades t JOIN dune_tokens.erc20 e
  ON e.contract_address = t.token_bought_address AND e.blockchain = t.blockchain
WHERE t.blockchain = 'base';
ALTER FOREIGN TABLE dune_tokens.erc20 OPTIONS (DROP require_filter);
CREATE FOREIGN TABLE q (x int) SERVER dune OPTIONS (query_id '1252207');
SELECT show_error($$ALTER FOREIGN TABLE q OPTIONS (ADD require_filter 'x')$$);
DROP FOREIGN TABLE q;

-- a hand-declared table: a column without dune_type is compared as Dune's catalog types it (read
-- for free with the table's name), and its literals written in that type
CREATE FOREIGN TABLE my_trades (
    project text,
    block_time timestamptz,
    amount double precision OPTIONS (column_name 'amount_usd'),
    raw numeric OPTIONS (column_name 'token_bought_amount_raw', dune_type 'uint256')
) SERVER dune OPTIONS (dune_table 'dex.trades');
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM my_trades
WHERE block_time < '2024-01-02' AND amount > 5 AND raw = 123456789012345678901234;
SELECT count(*) FROM my_trades WHERE block_time < '2024-01-02' AND amount > 5;
DROP FOREIGN TABLE my_trades;
DROP SCHEMA dune_dex CASCADE;
DROP SCHEMA dune_tokens CASCADE;
