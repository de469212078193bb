-- dune_fdw 0.3.0 -> 0.4.0 (ALTER EXTENSION dune_fdw UPDATE TO '0.4.0').
\echo Use "ALTER EXTENSION dune_fdw UPDATE" to load this file. \quit

-- New: query management and the account's usage.
CREATE  FUNCTION "dune_archive_query"(
	"query_id" bigint /* i64 */
) RETURNS bool /* bool */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'dune_archive_query_wrapper';

CREATE  FUNCTION "dune_create_query"(
	"name" TEXT, /* Option < & str > */
	"sql" TEXT, /* Option < & str > */
	"parameters" jsonb DEFAULT NULL, /* Option < JsonB > */
	"is_private" bool DEFAULT true, /* Option < bool > */
	"description" TEXT DEFAULT NULL /* Option < & str > */
) RETURNS bigint /* i64 */
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'dune_create_query_wrapper';

CREATE  FUNCTION "dune_make_private"(
	"query_id" bigint, /* i64 */
	"private" bool DEFAULT true /* bool */
) RETURNS bool /* bool */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'dune_make_private_wrapper';

CREATE  FUNCTION "dune_queries"() RETURNS TABLE (
	"query_id" bigint,  /* i64 */
	"name" TEXT,  /* Option < String > */
	"owner" TEXT,  /* Option < String > */
	"description" TEXT,  /* Option < String > */
	"tags" jsonb,  /* Option < JsonB > */
	"created_at" timestamp with time zone,  /* Option < TimestampWithTimeZone > */
	"updated_at" timestamp with time zone  /* Option < TimestampWithTimeZone > */
)
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'dune_queries_wrapper';

CREATE  FUNCTION "dune_query"(
	"query_id" bigint /* Option < i64 > */
) RETURNS jsonb /* Option < JsonB > */
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'dune_query_wrapper';

CREATE  FUNCTION "dune_unarchive_query"(
	"query_id" bigint /* i64 */
) RETURNS bool /* bool */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'dune_unarchive_query_wrapper';

CREATE  FUNCTION "dune_update_query"(
	"query_id" bigint, /* Option < i64 > */
	"name" TEXT DEFAULT NULL, /* Option < & str > */
	"sql" TEXT DEFAULT NULL, /* Option < & str > */
	"parameters" jsonb DEFAULT NULL, /* Option < JsonB > */
	"description" TEXT DEFAULT NULL /* Option < & str > */
) RETURNS bigint /* Option < i64 > */
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'dune_update_query_wrapper';

CREATE  FUNCTION "dune_usage"(
	"start_date" date DEFAULT NULL, /* Option < Date > */
	"end_date" date DEFAULT NULL /* Option < Date > */
) RETURNS TABLE (
	"start_date" date,  /* Option < Date > */
	"end_date" date,  /* Option < Date > */
	"credits_used" double precision,  /* Option < f64 > */
	"credits_included" double precision,  /* Option < f64 > */
	"bytes_used" bigint,  /* Option < i64 > */
	"bytes_allowed" bigint  /* Option < i64 > */
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'dune_usage_wrapper';

COMMENT ON FUNCTION dune_query(bigint) IS 'A saved Dune query as Dune describes it: name, SQL, parameters, flags, owner';
COMMENT ON FUNCTION dune_queries() IS 'The saved queries of your Dune account';
COMMENT ON FUNCTION dune_create_query(text, text, jsonb, boolean, text) IS 'Saves a new Dune query (Read/Write key); its id';
COMMENT ON FUNCTION dune_update_query(bigint, text, text, jsonb, text) IS 'Changes a saved Dune query; NULL leaves a field as it is (Read/Write key)';
COMMENT ON FUNCTION dune_archive_query(bigint) IS 'Archives a saved Dune query (Read/Write key)';
COMMENT ON FUNCTION dune_unarchive_query(bigint) IS 'Brings an archived Dune query back (Read/Write key)';
COMMENT ON FUNCTION dune_make_private(bigint, boolean) IS 'Makes a saved Dune query private, or public with false (Read/Write key)';
COMMENT ON FUNCTION dune_usage(date, date) IS 'The credits used and included by billing period, and the storage used and allowed';
