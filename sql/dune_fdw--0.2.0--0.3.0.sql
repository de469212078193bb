-- dune_fdw 0.2.0 -> 0.3.0 (ALTER EXTENSION dune_fdw UPDATE TO '0.3.0').
\echo Use "ALTER EXTENSION dune_fdw UPDATE" to load this file. \quit

-- New: what the result cache holds for your account, and emptying it.
CREATE  FUNCTION "dune_cache"() RETURNS TABLE (
	"execution_id" TEXT,  /* String */
	"query_id" bigint,  /* Option < i64 > */
	"rows" bigint,  /* i64 */
	"bytes" bigint,  /* i64 */
	"complete" bool,  /* bool */
	"columns" TEXT,  /* Option < String > */
	"filters" TEXT,  /* Option < String > */
	"sort_by" TEXT,  /* Option < String > */
	"last_used" timestamp with time zone  /* Option < TimestampWithTimeZone > */
)
STRICT VOLATILE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'dune_cache_wrapper';

CREATE  FUNCTION "dune_cache_clear"() RETURNS bigint /* i64 */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'dune_cache_clear_wrapper';

-- New: a latest result refreshed by an execution when older than max_age or missing.
CREATE  FUNCTION "dune_latest"(
	"query_id" bigint, /* Option < i64 > */
	"params" jsonb, /* Option < JsonB > */
	"max_age" interval /* Option < Interval > */
) RETURNS SETOF jsonb /* JsonbDatum */
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'dune_latest_max_age_wrapper';

-- New: a latest result as CSV.
CREATE  FUNCTION "dune_latest_csv"(
	"query_id" bigint, /* Option < i64 > */
	"params" jsonb DEFAULT NULL /* Option < JsonB > */
) RETURNS TEXT /* Option < String > */
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'dune_latest_csv_wrapper';

COMMENT ON FUNCTION dune_latest(bigint, jsonb, interval) IS 'The latest result of a saved Dune query, unless older than max_age or missing: then the query is executed first (billed)';
COMMENT ON FUNCTION dune_latest_csv(bigint, jsonb) IS 'The latest result of a saved Dune query as one CSV text; runs nothing';
COMMENT ON FUNCTION dune_cache() IS 'What the result cache holds for your Dune account: execution, query, rows, bytes, the request it answered, last use';
COMMENT ON FUNCTION dune_cache_clear() IS 'Empties the result cache of your Dune account; the number of entries removed';
