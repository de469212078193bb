-- Typed foreign tables: by query (latest result or a new execution), by raw SQL, by execution
-- id; columns matched by name (column_name maps another name); joins with local tables.
-- dune_type says what type Dune gives a column (IMPORT FOREIGN SCHEMA sets it): pushdown
-- follows Dune's comparisons in that type
CREATE FOREIGN TABLE dex_trades (
    block_time timestamptz OPTIONS (dune_type 'timestamp with time zone'),
    project text OPTIONS (dune_type 'varchar'),
    usd_amount float8 OPTIONS (dune_type 'double'),
    tx_hash bytea OPTIONS (dune_type 'varbinary')
) SERVER dune OPTIONS (query_id '1258228');
SELECT * FROM dex_trades ORDER BY block_time LIMIT 4;
-- columns are matched by name, never by position; column_name maps a Dune name
CREATE FOREIGN TABLE nft_marketplaces (
    volume_24h float8 OPTIONS (column_name '24 Hours Volume'),
    project text,
    rank bigint OPTIONS (column_name 'Rank')
) SERVER dune OPTIONS (query_id '1252207', params '{"Time Period": "day"}');
SELECT rank, project, volume_24h FROM nft_marketplaces ORDER BY rank LIMIT 3;
-- a declared column the result does not have
CREATE FOREIGN TABLE dex_typo (block_time timestamptz, projct text) SERVER dune OPTIONS (query_id '1258228');
SELECT show_error($$SELECT * FROM dex_typo$$);
-- a join with a local table
CREATE TABLE my_projects (project text PRIMARY KEY, team text);
INSERT INTO my_projects VALUES ('uniswap', 'amm'), ('curve', 'stables'), ('unknown', 'none');
SELECT m.team, d.project, count(*) AS trades, round(sum(d.usd_amount)::numeric, 2) AS usd
FROM dex_trades d JOIN my_projects m USING (project)
GROUP BY 1, 2 ORDER BY 1;
-- the inner side of a nested loop: each outer row rescans with a new parameter
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SELECT m.project, (SELECT count(*) FROM dex_trades d WHERE d.project = m.project) AS trades
FROM my_projects m ORDER BY 1;
RESET enable_hashjoin;
RESET enable_mergejoin;
-- prepared statements: the parameter is pushed down when the plan is generic
PREPARE trades_of(text) AS SELECT count(*) FROM dex_trades WHERE project = $1;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE trades_of('uniswap');
EXECUTE trades_of('uniswap');
EXECUTE trades_of('curve');
EXECUTE trades_of(NULL);
RESET plan_cache_mode;
DEALLOCATE trades_of;
-- mode execute runs the query at scan time (once per scan, rescans included)
CREATE FOREIGN TABLE table_sizes_now (ct bigint, "TableName" text)
    SERVER dune OPTIONS (query_id '3493826', mode 'execute', performance 'medium');
SELECT emulator('reset') IS NOT NULL AS reset;
SELECT * FROM table_sizes_now ORDER BY ct DESC LIMIT 3;
SELECT e -> 'executions_created' AS executions FROM emulator() e;
-- raw DuneSQL
CREATE FOREIGN TABLE from_sql (one integer, two text) SERVER dune OPTIONS (sql 'select 1 as one, ''zwei'' as two');
SELECT * FROM from_sql;
-- a fixed execution
SELECT set_config('test.fixed_execution', dune_execute(3493826), false) IS NOT NULL AS executed;
DO $$ BEGIN
    EXECUTE format('CREATE FOREIGN TABLE fixed_execution (ct bigint) SERVER dune OPTIONS (execution_id %L)',
                   current_setting('test.fixed_execution'));
END $$;

SELECT sum(ct) FROM fixed_execution;
-- max_age: the shipped latest result of 1252207 for day is from 2024, older than a day: refresh it
CREATE FOREIGN TABLE nft_fresh (rank bigint OPTIONS (column_name 'Rank'), project text)
    SERVER dune OPTIONS (query_id '1252207', params '{"Time Period": "day"}', max_age '1 day');

SELECT emulator('reset') IS NOT NULL AS reset;
SELECT * FROM nft_fresh ORDER BY rank LIMIT 2;
SELECT e -> 'executions_created' AS executions FROM emulator() e;
-- now fresh: read without running
SELECT emulator('reset') IS NOT NULL AS reset;
SELECT count(*) FROM nft_fresh;
SELECT e -> 'executions_created' AS executions FROM emulator() e;
-- a failing query surfaces Dune's message
CREATE FOREIGN TABLE failing (amount float8) SERVER dune OPTIONS (query_id '9000002', mode 'execute');
SELECT show_error($$SELECT * FROM failing$$);
-- a plain EXPLAIN makes no API call
SELECT emulator('reset') IS NOT NULL AS reset;
EXPLAIN (COSTS OFF) SELECT * FROM dex_trades;
EXPLAIN (COSTS OFF) SELECT * FROM table_sizes_now;
SELECT e -> 'total_requests' AS requests FROM emulator() e;
-- the key is the one of the role the plan checks permissions as: a view uses its owner's
-- mapping, as with postgres_fdw
CREATE VIEW trades_view AS SELECT project, usd_amount FROM dex_trades;
GRANT SELECT ON trades_view TO dune_viewer;
SET ROLE dune_viewer;
SELECT count(*) FROM trades_view;
SELECT show_error($$SELECT count(*) FROM dex_trades$$);
RESET ROLE;
GRANT SELECT ON dex_trades TO dune_viewer;
SET ROLE dune_viewer;
SELECT show_error($$SELECT count(*) FROM dex_trades$$);
RESET ROLE;
-- several pages in flight (fetch_concurrency): the same rows in the same order as one page
-- after the other, every page read once
SELECT dune_wait(dune_execute(9100001, '{"rows": "2000"}')) ->> 'state' AS state;
CREATE FOREIGN TABLE synth_ahead (block_number bigint, project text) SERVER dune
    OPTIONS (query_id '9100001', params '{"rows": "2000"}', fetch_size '100');
CREATE FOREIGN TABLE synth_one_by_one (block_number bigint, project text) SERVER dune
    OPTIONS (query_id '9100001', params '{"rows": "2000"}', fetch_size '100', fetch_concurrency '1');
SELECT emulator('reset') IS NOT NULL AS reset;
CREATE TEMP TABLE ahead AS SELECT row_number() OVER () AS n, * FROM synth_ahead;
SELECT e -> 'results_requests' AS requests, e -> 'rows_served' AS rows FROM emulator() e;
CREATE TEMP TABLE one_by_one AS SELECT row_number() OVER () AS n, * FROM synth_one_by_one;
SELECT count(*) AS rows, count(*) FILTER (WHERE a IS DISTINCT FROM o) AS differing
FROM ahead a FULL JOIN one_by_one o USING (n);
-- the functions read ahead too (a server with small pages, through dune_fdw.server)
DO $$ BEGIN
    EXECUTE format('CREATE SERVER dune_paged FOREIGN DATA WRAPPER dune_fdw OPTIONS (api_url %L, fetch_size %L)',
                   (SELECT api_url FROM emulator_config), '100');
END $$;
CREATE USER MAPPING FOR CURRENT_USER SERVER dune_paged OPTIONS (api_key 'emulator-key');
SET dune_fdw.server = 'dune_paged';
SELECT emulator('reset') IS NOT NULL AS reset;
CREATE TEMP TABLE latest_ahead AS
SELECT row_number() OVER () AS n, r FROM dune_latest(9100001, '{"rows": "2000"}') r;
SELECT e -> 'results_requests' AS requests, e -> 'rows_served' AS rows FROM emulator() e;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE (r ->> 'block_number')::bigint IS DISTINCT FROM o.block_number) AS differing
FROM latest_ahead l FULL JOIN one_by_one o USING (n);
RESET dune_fdw.server;
DROP SERVER dune_paged CASCADE;
