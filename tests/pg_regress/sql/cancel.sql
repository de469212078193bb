-- Waits end when Postgres says so: statement_timeout during polling and during a results
-- stream; the backend stays usable.
SET statement_timeout = '700ms';
SELECT dune_wait(dune_execute(9000003));
SELECT count(*) FROM dune_run(9000003);
RESET statement_timeout;
SELECT 1 AS still_alive;
SELECT count(*) FROM dune_latest(3493826);
-- a foreign-table scan waiting for its execution, and one in the middle of a large result
CREATE FOREIGN TABLE slow_table (n bigint) SERVER dune OPTIONS (query_id '9000003', mode 'execute');
SET statement_timeout = '700ms';
SELECT * FROM slow_table;
CREATE FOREIGN TABLE big_table (c03_block bigint, c07_hash bytea)
    SERVER dune OPTIONS (query_id '9100002', mode 'execute', params '{"rows": "50000000"}');
SET statement_timeout = '3s';
SELECT count(*) FROM big_table;
RESET statement_timeout;
SELECT 1 AS still_alive;
