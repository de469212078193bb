-- The validator: unknown options are refused with the valid ones listed, values are checked,
-- keys belong in user mappings, and only a superuser may set api_url.
SELECT show_error($$CREATE SERVER s1 FOREIGN DATA WRAPPER dune_fdw OPTIONS (api_key 'x')$$);
SELECT show_error($$CREATE SERVER s2 FOREIGN DATA WRAPPER dune_fdw OPTIONS (apiurl 'x')$$);
SELECT show_error($$CREATE SERVER s3 FOREIGN DATA WRAPPER dune_fdw OPTIONS (api_url 'ftp://example.com')$$);
SELECT show_error($$CREATE SERVER s4 FOREIGN DATA WRAPPER dune_fdw OPTIONS (api_url 'https://user:pw@example.com/api')$$);
SELECT show_error($$CREATE SERVER s5 FOREIGN DATA WRAPPER dune_fdw OPTIONS (request_timeout_ms '0')$$);
SELECT show_error($$CREATE SERVER s6 FOREIGN DATA WRAPPER dune_fdw OPTIONS (max_retries 'many')$$);
SELECT show_error($$CREATE SERVER s7 FOREIGN DATA WRAPPER dune_fdw OPTIONS (fetch_size '-1')$$);
SELECT show_error($$CREATE SERVER s8 FOREIGN DATA WRAPPER dune_fdw OPTIONS (connect_timeout_ms '10')$$);
SELECT show_error($$CREATE SERVER s9 FOREIGN DATA WRAPPER dune_fdw OPTIONS (max_retry_wait_ms '1h')$$);
SELECT show_error($$CREATE SERVER s10 FOREIGN DATA WRAPPER dune_fdw OPTIONS (fetch_concurrency '0')$$);
SELECT show_error($$CREATE SERVER s11 FOREIGN DATA WRAPPER dune_fdw OPTIONS (fetch_concurrency '64')$$);
SELECT show_error($$CREATE FOREIGN TABLE t1 (x int) SERVER dune OPTIONS (query_id '1', fetch_size '0')$$);
SELECT show_error($$CREATE USER MAPPING FOR dune_outsider SERVER dune OPTIONS (token 'x')$$);
SELECT show_error($$CREATE USER MAPPING FOR dune_outsider SERVER dune OPTIONS (api_key ' ')$$);
SELECT show_error($$ALTER FOREIGN DATA WRAPPER dune_fdw OPTIONS (ADD x '1')$$);
CREATE SERVER tuned FOREIGN DATA WRAPPER dune_fdw
    OPTIONS (api_url 'https://api.dune.com/api/', request_timeout_ms '5000', connect_timeout_ms '2000', max_retries '2',
             max_retry_wait_ms '10000', fetch_size '1000', fetch_concurrency '8', max_response_bytes '1048576');
SELECT srvoptions FROM pg_foreign_server WHERE srvname = 'tuned';
-- only a superuser may point a server somewhere: api_url decides where keys are sent
GRANT USAGE ON FOREIGN DATA WRAPPER dune_fdw TO dune_server_owner;
GRANT EXECUTE ON FUNCTION show_error(text) TO dune_server_owner;
SET ROLE dune_server_owner;
SELECT show_error($$CREATE SERVER mine FOREIGN DATA WRAPPER dune_fdw OPTIONS (api_url 'http://169.254.169.254/api')$$);
CREATE SERVER mine FOREIGN DATA WRAPPER dune_fdw OPTIONS (max_retries '1');
SELECT show_error($$ALTER SERVER mine OPTIONS (ADD api_url 'http://10.0.0.1/api')$$);
RESET ROLE;
-- keys in user mappings are hidden from other roles
CREATE USER MAPPING FOR dune_analyst SERVER dune OPTIONS (api_key 'emulator-key');
SELECT srvname, usename, umoptions FROM pg_user_mappings WHERE srvname = 'dune' ORDER BY usename;
SET ROLE dune_outsider;
SELECT srvname, usename, umoptions FROM pg_user_mappings WHERE srvname = 'dune' ORDER BY usename;
RESET ROLE;
-- foreign table options
SELECT show_error($$CREATE FOREIGN TABLE t1 (a int) SERVER dune$$);
SELECT show_error($$CREATE FOREIGN TABLE t2 (a int) SERVER dune OPTIONS (query_id '1', sql 'select 1')$$);
SELECT show_error($$CREATE FOREIGN TABLE t3 (a int) SERVER dune OPTIONS (query_id '0')$$);
SELECT show_error($$CREATE FOREIGN TABLE t4 (a int) SERVER dune OPTIONS (query_id 'abc')$$);
SELECT show_error($$CREATE FOREIGN TABLE t5 (a int) SERVER dune OPTIONS (query_id '1', params '[1]')$$);
SELECT show_error($$CREATE FOREIGN TABLE t6 (a int) SERVER dune OPTIONS (query_id '1', params 'not json')$$);
SELECT show_error($$CREATE FOREIGN TABLE t7 (a int) SERVER dune OPTIONS (query_id '1', mode 'sometimes')$$);
SELECT show_error($$CREATE FOREIGN TABLE t8 (a int) SERVER dune OPTIONS (query_id '1', max_age 'a while')$$);
SELECT show_error($$CREATE FOREIGN TABLE t9 (a int) SERVER dune OPTIONS (query_id '1', max_age '-1 hour')$$);
SELECT show_error($$CREATE FOREIGN TABLE t10 (a int) SERVER dune OPTIONS (query_id '1', fetch_size '0')$$);
SELECT show_error($$CREATE FOREIGN TABLE t11 (a int) SERVER dune OPTIONS (query_id '1', performance 'turbo')$$);
SELECT show_error($$CREATE FOREIGN TABLE t12 (a int) SERVER dune OPTIONS (sql 'select 1', mode 'latest')$$);
SELECT show_error($$CREATE FOREIGN TABLE t13 (a int) SERVER dune OPTIONS (execution_id 'bad id')$$);
SELECT show_error($$CREATE FOREIGN TABLE t14 (a int) SERVER dune OPTIONS (query_id '1', api_key 'k')$$);
SELECT show_error($$CREATE FOREIGN TABLE t15 (a int) SERVER dune OPTIONS (query_id '1', table_name 'x')$$);
SELECT show_error($$CREATE FOREIGN TABLE t16 (a int OPTIONS (name 'x')) SERVER dune OPTIONS (query_id '1')$$);
SELECT show_error($$CREATE FOREIGN TABLE t17 (a int) SERVER dune OPTIONS (view 'other')$$);
SELECT show_error($$CREATE FOREIGN TABLE t18 (a int) SERVER dune OPTIONS (query_id '1', fetch_concurrency 'four')$$);
CREATE FOREIGN TABLE ok_table (a int OPTIONS (column_name 'A b')) SERVER dune
    OPTIONS (query_id '1', params '{"x": 1}', mode 'latest', max_age '2 hours', performance 'large', fetch_size '500',
             fetch_concurrency '2');
SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'ok_table'::regclass;
