-- The wrapper, and the server `dune` that the dune_* functions use by default.
CREATE FOREIGN DATA WRAPPER dune_fdw
    HANDLER dune_fdw_handler
    VALIDATOR dune_fdw_validator;

CREATE SERVER dune FOREIGN DATA WRAPPER dune_fdw
    OPTIONS (api_url 'https://api.dune.com/api');

COMMENT ON FOREIGN DATA WRAPPER dune_fdw IS 'Dune Analytics: saved queries, raw DuneSQL and their results';
COMMENT ON SERVER dune IS 'The Dune API; give each role its key with CREATE USER MAPPING FOR CURRENT_USER SERVER dune OPTIONS (api_key ''...'')';

-- The latest-results view: SELECT "row" FROM dune_latest_results WHERE query_id = 1252207.
CREATE FOREIGN TABLE dune_latest_results (
    query_id bigint,
    params jsonb,
    execution_id text,
    row_number bigint,
    "row" jsonb
) SERVER dune OPTIONS (view 'latest_results');
COMMENT ON FOREIGN TABLE dune_latest_results IS 'The latest result of Dune queries, one row per result row: WHERE query_id = <id> [AND params = ''{...}'']';
