-- Expressions on Dune: the functions and operators DuneSQL computes with PostgreSQL's answer
-- go into the statement (conditions, grouping keys, outputs, aggregates' arguments and
-- FILTER), and ORDER BY and LIMIT above a grouping go with them; what would answer otherwise
-- stays in PostgreSQL. Each result is compared with PostgreSQL computing the same query from
-- the raw rows (a subquery with OFFSET 0 is never pushed down).
SET client_min_messages = warning;
CREATE SCHEMA dx;
CREATE SCHEMA tk;
IMPORT FOREIGN SCHEMA "dex" LIMIT TO (trades) FROM SERVER dune INTO dx;
IMPORT FOREIGN SCHEMA tokens FROM SERVER dune INTO tk;
CREATE VIEW raw_trades AS SELECT * FROM dx.trades OFFSET 0;
-- same(a, b): whether two queries return the same rows (as multisets)
CREATE FUNCTION same(a text, b text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM ((%s EXCEPT ALL %s) UNION ALL (%s EXCEPT ALL %s)) d', a, b, b, a) INTO n;
    RETURN n = 0;
END $$;
SELECT emulator('reset') IS NOT NULL AS reset;

-- conditions with functions and arithmetic
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM dx.trades WHERE lower(project) = 'uniswap';
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM dx.trades WHERE amount_usd * 2 > 1000;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT count(*) FROM dx.trades
WHERE (length(project) > 5 AND strpos(project, 'swap') > 0) OR substr(project, 1, 3) = 'cur'
   OR project || '!' = 'balancer!' OR block_number % 7 = 3 OR coalesce(version, 'x') = 'v3';
-- the date filters analysts write: each value converted as PostgreSQL converts it for the
-- comparison (at the session's TimeZone), when the scan starts
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM dx.trades WHERE block_time >= DATE '2024-03-25';
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM dx.trades WHERE block_time >= TIMESTAMP '2024-03-25';
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM dx.trades WHERE block_time >= current_date - 7;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT count(*) FROM dx.trades WHERE block_time >= current_date - interval '7 days';
-- the most common Dune query, daily volume: a timestamptz's day is the session's zone's
-- (at_timezone with the TimeZone read when the scan starts), ORDER BY and LIMIT on Dune too
EXPLAIN (VERBOSE, COSTS OFF)
SELECT date_trunc('day', block_time) AS day, sum(amount_usd) FROM dx.trades
WHERE block_time > '2024-01-01' GROUP BY 1 ORDER BY 1 LIMIT 5;
-- top traders
EXPLAIN (VERBOSE, COSTS OFF)
SELECT taker, sum(amount_usd) FROM dx.trades GROUP BY taker ORDER BY sum(amount_usd) DESC LIMIT 10;
-- volume buckets, FILTER, extract
EXPLAIN (VERBOSE, COSTS OFF)
SELECT CASE WHEN amount_usd < 100 THEN 'small' WHEN amount_usd < 10000 THEN 'medium' ELSE 'large' END AS bucket,
       count(*), sum(amount_usd * 2)
FROM dx.trades GROUP BY 1;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT extract(dow FROM block_time) AS dow, count(*) FILTER (WHERE amount_usd > 1000) AS big, count(*)
FROM dx.trades GROUP BY 1 ORDER BY 1;
-- what stays in PostgreSQL: round() of a double (half to even here, half away from zero on
-- Dune), btrim (spaces here, all whitespace on Dune), a text ORDER BY (the collation's order),
-- and a grouping over a key that stays
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM dx.trades WHERE round(amount_usd) = 100;
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM dx.trades WHERE btrim(project) = 'curve';
EXPLAIN (VERBOSE, COSTS OFF)
SELECT project, count(*) FROM dx.trades GROUP BY project ORDER BY project LIMIT 3;
EXPLAIN (VERBOSE, COSTS OFF) SELECT round(amount_usd), count(*) FROM dx.trades GROUP BY 1;
-- a plain EXPLAIN ran nothing
SELECT e -> 'executions_created' AS executions FROM emulator() e;

-- the rows, over Dune and computed here, in two time zones
SET TimeZone = 'America/New_York';
SELECT same($$SELECT count(*) FROM dx.trades WHERE lower(project) = 'uniswap'$$,
            $$SELECT count(*) FROM raw_trades WHERE lower(project) = 'uniswap'$$) AS lower,
       same($$SELECT count(*) FROM dx.trades WHERE amount_usd * 2 > 1000$$,
            $$SELECT count(*) FROM raw_trades WHERE amount_usd * 2 > 1000$$) AS arithmetic,
       same($$SELECT count(*) FROM dx.trades WHERE block_time >= DATE '2024-03-25'$$,
            $$SELECT count(*) FROM raw_trades WHERE block_time >= DATE '2024-03-25'$$) AS date_bound;
SELECT same($$SELECT date_trunc('day', block_time), round(sum(amount_usd)::numeric, 2) FROM dx.trades GROUP BY 1$$,
            $$SELECT date_trunc('day', block_time), round(sum(amount_usd)::numeric, 2) FROM raw_trades GROUP BY 1$$) AS daily_new_york,
       same($$SELECT extract(dow FROM block_time), extract(hour FROM block_time), count(*) FROM dx.trades GROUP BY 1, 2$$,
            $$SELECT extract(dow FROM block_time), extract(hour FROM block_time), count(*) FROM raw_trades GROUP BY 1, 2$$) AS fields;
SELECT date_trunc('day', block_time) AS day, round(sum(amount_usd)) AS usd FROM dx.trades
WHERE block_time > '2024-01-01' GROUP BY 1 ORDER BY 1 LIMIT 3;
SET TimeZone = 'UTC';
SELECT date_trunc('day', block_time) AS day, round(sum(amount_usd)) AS usd FROM dx.trades
WHERE block_time > '2024-01-01' GROUP BY 1 ORDER BY 1 LIMIT 3;
SELECT same($$SELECT date_trunc('week', block_time), count(DISTINCT taker) FROM dx.trades GROUP BY 1$$,
            $$SELECT date_trunc('week', block_time), count(DISTINCT taker) FROM raw_trades GROUP BY 1$$) AS weekly,
       same($$SELECT CASE WHEN amount_usd < 100 THEN 'small' WHEN amount_usd < 10000 THEN 'medium' ELSE 'large' END, count(*) FROM dx.trades GROUP BY 1$$,
            $$SELECT CASE WHEN amount_usd < 100 THEN 'small' WHEN amount_usd < 10000 THEN 'medium' ELSE 'large' END, count(*) FROM raw_trades GROUP BY 1$$) AS buckets,
       same($$SELECT count(*) FILTER (WHERE amount_usd > 1000), count(*) FROM dx.trades$$,
            $$SELECT count(*) FILTER (WHERE amount_usd > 1000), count(*) FROM raw_trades$$) AS filter;
SELECT encode(taker, 'hex') AS taker, round(sum(amount_usd)) AS usd
FROM dx.trades GROUP BY taker ORDER BY sum(amount_usd) DESC LIMIT 3;
SELECT encode(taker, 'hex') AS taker, round(sum(amount_usd)) AS usd
FROM raw_trades GROUP BY taker ORDER BY sum(amount_usd) DESC LIMIT 3;
RESET TimeZone;
DROP FUNCTION same(text, text);
DROP VIEW raw_trades;
DROP SCHEMA dx CASCADE;
DROP SCHEMA tk CASCADE;
