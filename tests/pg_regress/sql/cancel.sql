-- Waits end when Postgres says so: statement_timeout during polling and during a results
-- stream; the backend stays usable.
SET statement_timeout = '700ms';
SELECT dune_wait(dune_execute(9000003));
SELECT count(*) FROM dune_run(9000003);
RESET statement_timeout;
SELECT 1 AS still_alive;
SELECT count(*) FROM dune_latest(3493826);
