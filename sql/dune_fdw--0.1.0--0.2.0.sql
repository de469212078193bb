-- dune_fdw 0.1.0 -> 0.2.0 (ALTER EXTENSION dune_fdw UPDATE TO '0.2.0').
\echo Use "ALTER EXTENSION dune_fdw UPDATE" to load this file. \quit

-- New: the Dune calls in flight in this server.
CREATE  FUNCTION "dune_in_flight"() RETURNS TABLE (
	"pid" INT,  /* i32 */
	"usename" TEXT,  /* Option < String > */
	"execution_id" TEXT,  /* Option < String > */
	"query_id" bigint,  /* Option < i64 > */
	"state" TEXT,  /* Option < String > */
	"queue_position" bigint,  /* Option < i64 > */
	"started_at" timestamp with time zone,  /* Option < TimestampWithTimeZone > */
	"state_since" timestamp with time zone,  /* Option < TimestampWithTimeZone > */
	"rows_read" bigint,  /* i64 */
	"pages_read" bigint  /* i64 */
)
STRICT VOLATILE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'dune_in_flight_wrapper';

-- The server dune and dune_latest_results no longer belong to the extension, so that pg_dump
-- saves them with their options, user mappings and grants.
ALTER EXTENSION dune_fdw DROP SERVER dune;
ALTER EXTENSION dune_fdw DROP FOREIGN TABLE dune_latest_results;
COMMENT ON SERVER dune IS 'The Dune API (api.dune.com). Give each role its key: CREATE USER MAPPING FOR CURRENT_USER SERVER dune OPTIONS (api_key ''...'')';

-- What \df+ dune_* says about each function.
COMMENT ON FUNCTION dune_execute(bigint, jsonb, text) IS 'Starts an execution of a saved Dune query (params: {"name": value}; performance: medium, large or free); returns its execution id';
COMMENT ON FUNCTION dune_execute_sql(text, text) IS 'Starts an execution of raw DuneSQL; returns its execution id';
COMMENT ON FUNCTION dune_status(text) IS 'The status of a Dune execution, as Dune returns it';
COMMENT ON FUNCTION dune_wait(text, interval) IS 'Waits until a Dune execution ends or timeout passes (polling politely); returns its last status';
COMMENT ON FUNCTION dune_results(text) IS 'The rows of a Dune execution''s result, one jsonb object per row, streamed page by page; waits for the execution first';
COMMENT ON FUNCTION dune_results_csv(text) IS 'The result of a Dune execution as one CSV text (for small results; use dune_results for large ones)';
COMMENT ON FUNCTION dune_cancel(text) IS 'Cancels a Dune execution; true if Dune cancelled it, false if it had already ended';
COMMENT ON FUNCTION dune_latest(bigint, jsonb) IS 'The latest result of a saved Dune query (for these params), one jsonb object per row; runs nothing';
COMMENT ON FUNCTION dune_run(bigint, jsonb, text, interval) IS 'Executes a saved Dune query, waits and returns its rows as jsonb; cancels the execution on Dune if the statement gives up';
COMMENT ON FUNCTION dune_in_flight() IS 'The Dune calls in flight in this server: backend pid, execution, state, queue position, rows read (other roles'' calls only for pg_read_all_stats)';
COMMENT ON FUNCTION dune_fdw_handler() IS 'The foreign-data wrapper handler of dune_fdw';
COMMENT ON FUNCTION dune_fdw_validator(text[], oid) IS 'Checks the options of dune_fdw servers, user mappings, foreign tables and columns';
