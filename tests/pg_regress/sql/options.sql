-- The validator: unknown options are refused with the valid ones listed, values are checked,
-- keys belong in user mappings, and only a superuser may set api_url.
SELECT show_error($$CREATE SERVER s1 FOREIGN DATA WRAPPER dune_fdw OPTIONS (api_key 'x')$$);
SELECT show_error($$CREATE SERVER s2 FOREIGN DATA WRAPPER dune_fdw OPTIONS (apiurl 'x')$$);
SELECT show_error($$CREATE SERVER s3 FOREIGN DATA WRAPPER dune_fdw OPTIONS (api_url 'ftp://example.com')$$);
SELECT show_error($$CREATE SERVER s4 FOREIGN DATA WRAPPER dune_fdw OPTIONS (api_url 'https://user:pw@example.com/api')$$);
SELECT show_error($$CREATE SERVER s5 FOREIGN DATA WRAPPER dune_fdw OPTIONS (request_timeout_ms '0')$$);
SELECT show_error($$CREATE SERVER s6 FOREIGN DATA WRAPPER dune_fdw OPTIONS (max_retries 'many')$$);
SELECT show_error($$CREATE SERVER s7 FOREIGN DATA WRAPPER dune_fdw OPTIONS (fetch_size '-1')$$);
SELECT show_error($$CREATE USER MAPPING FOR dune_outsider SERVER dune OPTIONS (token 'x')$$);
SELECT show_error($$CREATE USER MAPPING FOR dune_outsider SERVER dune OPTIONS (api_key ' ')$$);
SELECT show_error($$ALTER FOREIGN DATA WRAPPER dune_fdw OPTIONS (ADD x '1')$$);
CREATE SERVER tuned FOREIGN DATA WRAPPER dune_fdw
    OPTIONS (api_url 'https://api.dune.com/api/', request_timeout_ms '5000', max_retries '2', fetch_size '1000', max_response_bytes '1048576');
SELECT srvoptions FROM pg_foreign_server WHERE srvname = 'tuned';
-- only a superuser may point a server somewhere: api_url decides where keys are sent
CREATE ROLE dune_server_owner;
GRANT USAGE ON FOREIGN DATA WRAPPER dune_fdw TO dune_server_owner;
GRANT EXECUTE ON FUNCTION show_error(text) TO dune_server_owner;
SET ROLE dune_server_owner;
SELECT show_error($$CREATE SERVER mine FOREIGN DATA WRAPPER dune_fdw OPTIONS (api_url 'http://169.254.169.254/api')$$);
CREATE SERVER mine FOREIGN DATA WRAPPER dune_fdw OPTIONS (max_retries '1');
SELECT show_error($$ALTER SERVER mine OPTIONS (ADD api_url 'http://10.0.0.1/api')$$);
RESET ROLE;
-- keys in user mappings are hidden from other roles
SELECT srvname, usename, umoptions FROM pg_user_mappings WHERE srvname = 'dune' ORDER BY usename;
SET ROLE dune_outsider;
SELECT srvname, usename, umoptions FROM pg_user_mappings WHERE srvname = 'dune' ORDER BY usename;
RESET ROLE;
