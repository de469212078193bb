-- What is sent to Dune, and proof that pushdown never changes a result.
CREATE FOREIGN TABLE dex_trades (
    block_time timestamptz OPTIONS (dune_type 'timestamp with time zone'),
    project text OPTIONS (dune_type 'varchar'),
    usd_amount float8 OPTIONS (dune_type 'double'),
    tx_hash bytea OPTIONS (dune_type 'varbinary')
) SERVER dune OPTIONS (query_id '1258228');
CREATE TABLE my_projects (project text PRIMARY KEY, team text);
INSERT INTO my_projects VALUES ('uniswap', 'amm'), ('curve', 'stables'), ('unknown', 'none');
-- EXPLAIN VERBOSE shows the request: columns, filters, sort and limit.
EXPLAIN (VERBOSE, COSTS OFF)
SELECT project, usd_amount FROM dex_trades
WHERE project IN ('uniswap', 'curve') AND usd_amount >= 10 AND block_time > '2024-03-01' AND tx_hash IS NOT NULL
ORDER BY usd_amount DESC NULLS LAST LIMIT 3;
SELECT project, usd_amount FROM dex_trades
WHERE project IN ('uniswap', 'curve') AND usd_amount >= 10 AND block_time > '2024-03-01' AND tx_hash IS NOT NULL
ORDER BY usd_amount DESC NULLS LAST LIMIT 3;
-- OR, LIKE, bytea equality and a bare boolean column are pushed too
EXPLAIN (VERBOSE, COSTS OFF)
SELECT project FROM dex_trades
WHERE (project LIKE 'uni%' OR usd_amount < 1) AND tx_hash = '\x540ae87272f0fcce54595e7c2b67b9ef32cf2d0b5ccfa23c73a21727ae3350ba';
SELECT project FROM dex_trades
WHERE (project LIKE 'uni%' OR usd_amount < 1) AND tx_hash = '\x540ae87272f0fcce54595e7c2b67b9ef32cf2d0b5ccfa23c73a21727ae3350ba';
-- not pushed: NOT, functions, text ordering (collation), DESC with NULLs first; then no LIMIT
EXPLAIN (VERBOSE, COSTS OFF) SELECT project FROM dex_trades WHERE NOT (project LIKE 'uni%') LIMIT 2;

EXPLAIN (VERBOSE, COSTS OFF) SELECT project FROM dex_trades WHERE lower(project) = 'uniswap' LIMIT 2;
EXPLAIN (VERBOSE, COSTS OFF) SELECT project FROM dex_trades ORDER BY project LIMIT 2;
EXPLAIN (VERBOSE, COSTS OFF) SELECT usd_amount FROM dex_trades ORDER BY usd_amount DESC LIMIT 2;
EXPLAIN (VERBOSE, COSTS OFF) SELECT DISTINCT project FROM dex_trades LIMIT 2;
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM dex_trades;
EXPLAIN (VERBOSE, COSTS OFF) SELECT d.project FROM dex_trades d JOIN my_projects m USING (project) LIMIT 2;
-- quotes, backslashes and unicode in values and names cannot change a filter's meaning
CREATE FOREIGN TABLE weird_names ("we""ird col" text OPTIONS (column_name 'project'), "24h" float8 OPTIONS (column_name '24 Hours Volume'))
    SERVER dune OPTIONS (query_id '1252207');
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM weird_names WHERE "we""ird col" = 'it''s "q" \ ü'' OR 1=1 --';
SELECT * FROM weird_names WHERE "we""ird col" = 'it''s "q" \ ü'' OR 1=1 --';
SELECT "we""ird col" FROM weird_names WHERE "24h" > 1e6 AND "we""ird col" <> 'blur' ORDER BY "24h" LIMIT 3;
-- a local type that is not Dune's: a comparison is pushed only as Dune evaluates it in Dune's
-- type, rewritten where needed (a date over a timestamp: whole-day ranges; numeric(12,0) over a
-- double: the values that round to the constant), and every result equals the unpushed one
CREATE FOREIGN TABLE trade_days (
    day date OPTIONS (column_name 'block_time', dune_type 'timestamp with time zone'),
    project text OPTIONS (dune_type 'varchar'),
    usd_amount numeric(12,0) OPTIONS (dune_type 'double')
) SERVER dune OPTIONS (query_id '1258228');
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM trade_days WHERE day = '2024-03-05';
SELECT (SELECT count(*) FROM trade_days WHERE day = '2024-03-05') AS pushed,
       (SELECT count(*) FROM (SELECT * FROM trade_days OFFSET 0) t WHERE day = '2024-03-05') AS unpushed;
SELECT (SELECT count(*) FROM trade_days WHERE day <= '2024-03-02') AS pushed,
       (SELECT count(*) FROM (SELECT * FROM trade_days OFFSET 0) t WHERE day <= '2024-03-02') AS unpushed;
SELECT (SELECT count(*) FROM trade_days WHERE day <> '2024-03-02') AS pushed,
       (SELECT count(*) FROM (SELECT * FROM trade_days OFFSET 0) t WHERE day <> '2024-03-02') AS unpushed;
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM trade_days WHERE usd_amount = 3;
SELECT (SELECT count(*) FROM trade_days WHERE usd_amount = 3) AS pushed,
       (SELECT count(*) FROM (SELECT * FROM trade_days OFFSET 0) t WHERE usd_amount = 3) AS unpushed;
-- a rewritten comparison that is wider than PostgreSQL's (superset) keeps the LIMIT local
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM trade_days WHERE usd_amount <= 3 ORDER BY usd_amount LIMIT 2;
-- without dune_type, Dune's type is unknown: only what holds for every Dune type is pushed
-- (an integer comparison: a varchar column would make Dune refuse it); no sort, no time filter
CREATE FOREIGN TABLE trades_untyped (day date OPTIONS (column_name 'block_time'), evt_index bigint,
    usd_amount float8) SERVER dune OPTIONS (query_id '1258228');
EXPLAIN (VERBOSE, COSTS OFF)
SELECT * FROM trades_untyped WHERE day = '2024-03-05' AND evt_index > 1 AND usd_amount > 1 ORDER BY evt_index LIMIT 1;
-- typmods are applied on read as PostgreSQL's input functions apply them
CREATE FOREIGN TABLE trade_seconds (block_time timestamptz(0) OPTIONS (dune_type 'timestamp with time zone'),
    usd_amount numeric(12,1), project varchar(3)) SERVER dune OPTIONS (query_id '1258228');
SELECT block_time, usd_amount FROM trade_seconds WHERE block_time < '2024-03-03' ORDER BY block_time;
SELECT (SELECT count(*) FROM trade_seconds WHERE block_time = '2024-03-04 13:21:39+00') AS pushed,
       (SELECT count(*) FROM (SELECT * FROM trade_seconds OFFSET 0) t WHERE block_time = '2024-03-04 13:21:39+00') AS unpushed;
SELECT show_error($$SELECT project FROM trade_seconds$$);
-- a column rounded by its typmod makes ties that Dune breaks by its own (unrounded) values:
-- it is sorted on Dune only as the last key
CREATE FOREIGN TABLE trade_seconds_sorted (
    block_time timestamptz(0) OPTIONS (dune_type 'timestamp with time zone'),
    usd_amount float8 OPTIONS (dune_type 'double')) SERVER dune OPTIONS (query_id '1258228');
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM trade_seconds_sorted ORDER BY usd_amount DESC NULLS LAST, block_time LIMIT 3;
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM trade_seconds_sorted ORDER BY block_time, usd_amount DESC NULLS LAST LIMIT 3;
-- a filter too long for a request (3,000 values) is applied by PostgreSQL alone
SELECT format('SELECT count(*) FROM dex_trades WHERE project IN (%s)',
              string_agg(quote_literal('p' || i), ', ') || ', ''uniswap''') AS long_in
FROM generate_series(1, 3000) i \gset
SELECT emulator('reset') IS NOT NULL AS reset;
:long_in;
SELECT count(*) FROM (SELECT * FROM dex_trades OFFSET 0) t WHERE project = 'uniswap';
SELECT e -> 'requests' AS requests FROM emulator() e;
-- pushed and unpushed forms give identical rows (OFFSET 0 keeps quals from being pushed)
SELECT dune_wait(dune_execute(9100001, '{"rows": "20000"}')) ->> 'state' AS state;
CREATE FOREIGN TABLE trades (block_time timestamptz, project text, block_number bigint, amount_usd float8,
    tx_hash bytea, amount_raw numeric, is_buy boolean, note text) SERVER dune OPTIONS (query_id '9100001', params '{"rows": "20000"}');
CREATE TEMP TABLE pushed AS
    SELECT * FROM trades WHERE project IN ('curve', 'dodo') AND amount_usd BETWEEN 1000 AND 5000 AND is_buy AND note IS NULL;
CREATE TEMP TABLE unpushed AS
    SELECT * FROM (SELECT * FROM trades OFFSET 0) t
    WHERE project IN ('curve', 'dodo') AND amount_usd BETWEEN 1000 AND 5000 AND is_buy AND note IS NULL;
SELECT (SELECT count(*) FROM pushed) AS pushed_rows, (SELECT count(*) FROM unpushed) AS unpushed_rows,
       (SELECT count(*) FROM (SELECT * FROM pushed EXCEPT ALL SELECT * FROM unpushed) d) AS only_pushed,
       (SELECT count(*) FROM (SELECT * FROM unpushed EXCEPT ALL SELECT * FROM pushed) d) AS only_unpushed;
SELECT count(*) AS same_top_rows FROM (
    (SELECT block_number FROM trades WHERE amount_raw > 1e20 ORDER BY amount_usd DESC NULLS LAST, block_number LIMIT 25)
    INTERSECT
    (SELECT block_number FROM (SELECT * FROM trades OFFSET 0) t WHERE amount_raw > 1e20 ORDER BY amount_usd DESC NULLS LAST, block_number LIMIT 25)
) s;
SELECT count(*) FROM trades WHERE block_time >= '2024-01-01 01:00:00+00' AND block_time < '2024-01-01 02:00:00+00';
SELECT count(*) FROM (SELECT * FROM trades OFFSET 0) t WHERE block_time >= '2024-01-01 01:00:00+00' AND block_time < '2024-01-01 02:00:00+00';
-- credits: LIMIT 10 over 10,000,000 rows is one small request; 2 of 10 columns bill 2 columns
CREATE FOREIGN TABLE wide (c01_time timestamptz, c02_project text, c03_block bigint, c04_amount float8, c05_from bytea,
    c06_to bytea, c07_hash bytea, c08_raw numeric, c09_flag boolean, c10_small integer)
    SERVER dune OPTIONS (query_id '9100002', params '{"rows": "10000000"}', mode 'execute');
SELECT emulator('reset') IS NOT NULL AS reset;
SELECT c03_block, c10_small FROM wide LIMIT 10;
SELECT e -> 'results_requests' AS results_requests, e -> 'rows_served' AS rows, e -> 'datapoints_served' AS datapoints FROM emulator() e;
SELECT emulator('reset') IS NOT NULL AS reset;
SELECT count(c02_project), count(c05_from) FROM (SELECT c02_project, c05_from FROM wide LIMIT 50000) s;
SELECT e -> 'rows_served' AS rows, e -> 'datapoints_served' AS datapoints FROM emulator() e;
-- a scan stops fetching as soon as PostgreSQL stops asking: the first page, and at most
-- fetch_concurrency (4) pages ahead of it
SELECT emulator('reset') IS NOT NULL AS reset;
BEGIN;
DECLARE early CURSOR FOR SELECT c03_block FROM wide;
FETCH 3 FROM early;
CLOSE early;
COMMIT;
SELECT (e ->> 'results_requests')::int <= 1 + 4 AS at_most_four_pages_ahead FROM emulator() e;
SELECT EXISTS (SELECT 1 FROM wide WHERE c10_small = 7) AS exists_7;
-- LIMIT with OFFSET over a single table: the scan is the whole query (no Limit node), Dune skips
-- the OFFSET rows itself (offset) and only the rows kept are read and billed
EXPLAIN (VERBOSE, COSTS OFF) SELECT project, block_time FROM dex_trades ORDER BY block_time LIMIT 3 OFFSET 8;
SELECT emulator('reset') IS NOT NULL AS reset;
SELECT project, block_time FROM dex_trades ORDER BY block_time LIMIT 3 OFFSET 8;
SELECT e -> 'rows_served' AS rows_served FROM emulator() e;
SELECT project, block_time FROM (SELECT * FROM dex_trades OFFSET 0) t ORDER BY block_time LIMIT 3 OFFSET 8;
-- when Dune refuses the filters (a number compared with a varchar column, its type unknown
-- here), the scan applies the LIMIT and OFFSET itself to the rows that match
CREATE FOREIGN TABLE codes (code bigint, chain text) SERVER dune OPTIONS (query_id '9000007');
EXPLAIN (VERBOSE, COSTS OFF) SELECT chain, code FROM codes WHERE code > 5 LIMIT 1 OFFSET 1;
SELECT chain, code FROM codes WHERE code > 5 LIMIT 1 OFFSET 1;
SELECT chain, code FROM (SELECT * FROM codes OFFSET 0) t WHERE code > 5 LIMIT 1 OFFSET 1;
