-- Bad input gets a clear error with a fitting SQLSTATE, before anything is sent.
SELECT show_error($$SELECT dune_execute(0)$$);
SELECT show_error($$SELECT dune_execute(-5)$$);
SELECT show_error($$SELECT dune_execute(1252207, '[1, 2]')$$);
SELECT show_error($$SELECT dune_execute(1252207, '{"a": {"b": 1}}')$$);
SELECT show_error($$SELECT dune_execute(1258228, NULL, 'turbo')$$);
SELECT show_error($$SELECT dune_execute_sql('  ')$$);
SELECT show_error($$SELECT dune_status('Wonky Job ID')$$);
SELECT show_error($$SELECT dune_cancel('../../query/1/execute')$$);
SELECT show_error($$SELECT dune_wait('01HKZJ2683PHF9Q9PHHQ8FW4Q1', '-1 second')$$);
SELECT show_error($$SELECT * FROM dune_latest(0)$$);
-- Dune's own answers, with its words
SELECT show_error($$SELECT dune_execute(424242)$$);
SELECT show_error($$SELECT dune_execute(1252207, '{"Nope": 1}')$$);
SELECT show_error($$SELECT dune_status('01HKZJ2683PHF9Q9PHHQ8FW4Q1')$$);
SELECT show_error($$SELECT * FROM dune_latest(1252207, '{"Time Period": "month"}')$$);
SELECT show_error($$SELECT * FROM dune_latest(9000002)$$);
-- executions that fail, or end without rows
SELECT show_error($$SELECT * FROM dune_run(9000002)$$);
SELECT show_error($$SELECT * FROM dune_results(dune_execute_sql('selec 1'))$$);
SELECT show_error($$SELECT dune_results_csv(dune_execute_sql('select * from nowhere'))$$);
SELECT dune_execute(9000003) AS slow \gset
SELECT dune_cancel(:'slow');
SELECT show_error(format($$SELECT * FROM dune_results(%L)$$, :'slow'));
SELECT show_error($$SELECT * FROM dune_run(9000004, timeout => '200 ms')$$);
-- keys, mappings and privileges
GRANT USAGE ON FOREIGN SERVER dune TO dune_analyst;
GRANT EXECUTE ON FUNCTION show_error(text) TO dune_analyst, dune_outsider;
SET ROLE dune_outsider;
SELECT show_error($$SELECT dune_execute(1258228)$$);
RESET ROLE;
SET ROLE dune_analyst;
SELECT show_error($$SELECT dune_execute(1258228)$$);
RESET ROLE;
CREATE USER MAPPING FOR dune_analyst SERVER dune OPTIONS (api_key 'sk_wrong_key_123');
SET ROLE dune_analyst;
SELECT show_error($$SELECT dune_execute(1258228)$$);
RESET ROLE;
-- the PUBLIC mapping serves roles without their own
DROP USER MAPPING FOR dune_analyst SERVER dune;
CREATE USER MAPPING FOR PUBLIC SERVER dune OPTIONS (api_key 'emulator-key');
SET ROLE dune_analyst;
SELECT count(*) FROM dune_latest(3493826);
RESET ROLE;
DROP USER MAPPING FOR PUBLIC SERVER dune;
CREATE USER MAPPING FOR dune_analyst SERVER dune OPTIONS (api_key '');
CREATE USER MAPPING FOR dune_analyst SERVER dune OPTIONS (api_key 'emulator-key');
-- a mapping without a key
CREATE SERVER keyless FOREIGN DATA WRAPPER dune_fdw OPTIONS (api_url 'http://127.0.0.1:9/api');
CREATE USER MAPPING FOR CURRENT_USER SERVER keyless;
SET dune_fdw.server = 'keyless';
SELECT show_error($$SELECT dune_execute(1258228)$$);
-- dune_fdw.server picks the server: unknown, not ours, unreachable
SET dune_fdw.server = 'nowhere';
SELECT show_error($$SELECT dune_execute(1258228)$$);
CREATE FOREIGN DATA WRAPPER not_dune;
CREATE SERVER elsewhere FOREIGN DATA WRAPPER not_dune;
SET dune_fdw.server = 'elsewhere';
SELECT show_error($$SELECT dune_execute(1258228)$$);
CREATE SERVER unreachable FOREIGN DATA WRAPPER dune_fdw OPTIONS (api_url 'http://127.0.0.1:9/api', max_retries '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER unreachable OPTIONS (api_key 'emulator-key');
SET dune_fdw.server = 'unreachable';
SELECT show_error($$SELECT dune_status('01HKZJ2683PHF9Q9PHHQ8FW4Q1')$$);
RESET dune_fdw.server;
SELECT count(*) FROM dune_latest(3493826);
