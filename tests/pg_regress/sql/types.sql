-- Reading values into declared types: any type whose input reads the value's text works
-- (text always does); a value that does not fit names table, column, row and value.
CREATE FOREIGN TABLE as_text (v_varchar text, v_bigint text, v_double text, v_uint256 text, v_varbinary text,
    v_timestamptz text, v_array text, v_map text, v_boolean text) SERVER dune OPTIONS (query_id '9000001');
SELECT * FROM as_text;
CREATE DOMAIN positive_amount AS numeric CHECK (VALUE > 0);
CREATE TYPE trade_project AS ENUM ('uniswap', 'sushiswap', 'curve', 'balancer', '0x', '1inch', 'dodo', 'pancakeswap');
CREATE FOREIGN TABLE dex_domains (project trade_project, usd_amount positive_amount, evt_index numeric(10, 2), block_time timestamp,
    day date OPTIONS (column_name 'block_time')) SERVER dune OPTIONS (query_id '1258228');
SELECT * FROM dex_domains ORDER BY evt_index LIMIT 3;
-- values that do not fit
CREATE FOREIGN TABLE bad_int (v_varchar integer) SERVER dune OPTIONS (query_id '9000001');
SELECT show_error($$SELECT * FROM bad_int$$);
CREATE FOREIGN TABLE bad_small (v_integer smallint) SERVER dune OPTIONS (query_id '9000001');
SELECT show_error($$SELECT * FROM bad_small$$);
CREATE FOREIGN TABLE bad_bytes (v_varchar bytea) SERVER dune OPTIONS (query_id '9000001');
SELECT show_error($$SELECT * FROM bad_bytes$$);
CREATE FOREIGN TABLE bad_numeric (v_decimal numeric(3, 0)) SERVER dune OPTIONS (query_id '9000001');
SELECT show_error($$SELECT * FROM bad_numeric$$);
CREATE FOREIGN TABLE bad_enum (project trade_project) SERVER dune OPTIONS (query_id '1252207');
SELECT show_error($$SELECT * FROM bad_enum$$);
CREATE FOREIGN TABLE bad_bool (v_varchar boolean) SERVER dune OPTIONS (query_id '9000001');
SELECT show_error($$SELECT * FROM bad_bool$$);
-- PostgreSQL text and jsonb cannot hold the character \u0000: such a value is an error naming
-- table, column, row and value (text), or jsonb_in's own error (jsonb); other rows read fine
CREATE FOREIGN TABLE with_nul (id bigint, note text) SERVER dune OPTIONS (query_id '9000005');
SELECT show_error($$SELECT * FROM with_nul$$);
SELECT id FROM with_nul WHERE id = 1;
SELECT * FROM with_nul WHERE id = 1;

SELECT show_error($$SELECT * FROM dune_latest(9000005)$$);
