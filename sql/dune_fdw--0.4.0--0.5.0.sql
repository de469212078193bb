-- dune_fdw 0.4.0 -> 0.5.0 (ALTER EXTENSION dune_fdw UPDATE TO '0.5.0').
\echo Use "ALTER EXTENSION dune_fdw UPDATE" to load this file. \quit

-- New: uploaded Dune tables (foreign tables with the option dune_table take INSERT, COPY and
-- TRUNCATE through the same handler, so no object of 0.4.0 changes) and their functions.
CREATE  FUNCTION "dune_clear_table"(
	"namespace" TEXT, /* & str */
	"table_name" TEXT /* & str */
) RETURNS TEXT /* String */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'dune_clear_table_wrapper';

CREATE  FUNCTION "dune_create_table"(
	"namespace" TEXT, /* Option < & str > */
	"table_name" TEXT, /* Option < & str > */
	"columns" jsonb, /* Option < JsonB > */
	"is_private" bool DEFAULT true, /* Option < bool > */
	"description" TEXT DEFAULT NULL /* Option < & str > */
) RETURNS jsonb /* JsonB */
VOLATILE PARALLEL UNSAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'dune_create_table_json_wrapper';

CREATE  FUNCTION "dune_create_table"(
	"namespace" TEXT, /* Option < & str > */
	"table_name" TEXT, /* Option < & str > */
	"columns" regclass, /* Option < PgRelation > */
	"is_private" bool DEFAULT true, /* Option < bool > */
	"description" TEXT DEFAULT NULL /* Option < & str > */
) RETURNS jsonb /* JsonB */
VOLATILE PARALLEL UNSAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'dune_create_table_relation_wrapper';

CREATE  FUNCTION "dune_drop_table"(
	"namespace" TEXT, /* & str */
	"table_name" TEXT /* & str */
) RETURNS TEXT /* String */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'dune_drop_table_wrapper';

CREATE  FUNCTION "dune_tables"() RETURNS TABLE (
	"full_name" TEXT,  /* String */
	"is_private" bool,  /* Option < bool > */
	"size" bigint,  /* Option < i64 > */
	"created_at" timestamp with time zone,  /* Option < TimestampWithTimeZone > */
	"updated_at" timestamp with time zone,  /* Option < TimestampWithTimeZone > */
	"columns" jsonb  /* Option < JsonB > */
)
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'dune_tables_wrapper';

CREATE  FUNCTION "dune_upload_csv"(
	"table_name" TEXT, /* Option < & str > */
	"csv" TEXT, /* Option < & str > */
	"is_private" bool DEFAULT true /* Option < bool > */
) RETURNS jsonb /* JsonB */
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'dune_upload_csv_wrapper';

COMMENT ON FUNCTION dune_create_table(text, text, jsonb, boolean, text) IS 'Creates an empty Dune table from a JSON schema (Read/Write key); Dune''s answer';
COMMENT ON FUNCTION dune_create_table(text, text, regclass, boolean, text) IS 'Creates an empty Dune table with the columns of a local table, view or foreign table (Read/Write key)';
COMMENT ON FUNCTION dune_upload_csv(text, text, boolean) IS 'Creates or replaces the Dune table dataset_<table_name> from a CSV text with a header row (Read/Write key)';
COMMENT ON FUNCTION dune_clear_table(text, text) IS 'Deletes every row of a Dune table, keeping the table; cannot be rolled back (Read/Write key)';
COMMENT ON FUNCTION dune_drop_table(text, text) IS 'Deletes a Dune table and its rows; cannot be rolled back (Read/Write key)';
COMMENT ON FUNCTION dune_tables() IS 'The account''s uploaded Dune tables: full name, privacy, size in bytes, times, columns';

-- Changed: dune_in_flight() shows what an execution cost (execution_cost_credits); a new
-- column changes the return type, so the function is made again.
DROP FUNCTION dune_in_flight();
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
	"pages_read" bigint,  /* i64 */
	"execution_cost_credits" double precision  /* Option < f64 > */
)
STRICT VOLATILE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'dune_in_flight_wrapper';
COMMENT ON FUNCTION dune_in_flight() IS 'The Dune calls in flight in this server: backend pid, execution, state, queue position, rows read, what the execution cost (other roles'' calls only for pg_read_all_stats)';
