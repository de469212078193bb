-- Writing to Dune (API reference §9): uploaded tables made by functions, and foreign tables with
-- the option dune_table that take INSERT, COPY and TRUNCATE and read back through DuneSQL.
-- The emulator's account (the key's namespace) is dune_fdw_emulator.

-- names, types and JSON are checked before anything is sent
SELECT emulator('reset') IS NOT NULL AS reset;
SELECT show_error($$SELECT dune_create_table('My Team', 'labels', '[{"name": "a", "type": "varchar"}]'::jsonb)$$);
SELECT show_error($$SELECT dune_create_table('dune_fdw_emulator', '1labels', '[{"name": "a", "type": "varchar"}]'::jsonb)$$);
SELECT show_error($$SELECT dune_create_table('dune_fdw_emulator', 'labels', '[{"name": "a", "type": "decimal(38,0)"}]'::jsonb)$$);
SELECT show_error($$SELECT dune_create_table('dune_fdw_emulator', 'labels', '[{"name": "Address", "type": "varchar"}]'::jsonb)$$);
SELECT show_error($$SELECT dune_create_table('dune_fdw_emulator', 'labels', '{"a": "varchar"}'::jsonb)$$);
SELECT show_error($$SELECT dune_create_table('dune_fdw_emulator', 'labels', '[]'::jsonb)$$);
SELECT show_error($$SELECT dune_create_table('dune_fdw_emulator', 'labels', '[{"name": "a", "type": "varchar", "nullable": "no"}]'::jsonb)$$);
SELECT show_error($$SELECT dune_create_table('dune_fdw_emulator', NULL, '[{"name": "a", "type": "varchar"}]'::jsonb)$$);
SELECT show_error($$SELECT dune_create_table('dune_fdw_emulator', 'labels', 'pg_class')$$);
SELECT e -> 'total_requests' AS requests FROM emulator() e;

-- create from a JSON schema, then from a local table's definition
SELECT dune_create_table('dune_fdw_emulator', 'labels',
    '[{"name": "address", "type": "varbinary", "nullable": false}, {"name": "label", "type": "varchar"},
      {"name": "updated_at", "type": "timestamp"}, {"name": "amount", "type": "uint256"}]'::jsonb,
    description => 'labels from the tests') - 'already_existed' AS created;
SELECT show_error($$SELECT dune_create_table('dune_fdw_emulator', 'labels', '[{"name": "a", "type": "varchar"}]'::jsonb)$$);
CREATE TABLE wallets (address bytea NOT NULL, label text, seen timestamptz, balance numeric(78, 0),
                      score numeric(10, 2), n integer, big bigint, ok boolean, day date, ratio float8, id uuid);
SELECT dune_create_table('dune_fdw_emulator', 'wallets', 'wallets'::regclass, false) ->> 'full_name' AS full_name;
SELECT full_name, is_private, size, columns FROM dune_tables() ORDER BY full_name;
CREATE TABLE spans (during tstzrange);
SELECT show_error($$SELECT dune_create_table('dune_fdw_emulator', 'spans', 'spans'::regclass)$$);

-- a foreign table over it: INSERT, RETURNING, COPY, read back through DuneSQL
CREATE FOREIGN TABLE labels (address bytea, label text, updated_at timestamptz,
                             amount numeric OPTIONS (dune_type 'uint256'))
    SERVER dune OPTIONS (dune_table 'dune_fdw_emulator.labels');
SELECT emulator('reset') IS NOT NULL AS reset;
INSERT INTO labels VALUES
    ('\xdeadbeef', 'first', '2024-03-01 12:00:00.123456+00', 115792089237316195423570985008687907853269984665640564039457584007913129639935),
    ('\x00', 'naïve "quoted"\n', '2024-03-01 14:00:00+02', 0),
    ('\x01', NULL, NULL, NULL);
SELECT l ->> 'route' AS route, l ->> 'method' AS method FROM jsonb_array_elements(emulator('log') -> 'log') l;
INSERT INTO labels VALUES ('\x02', 'returned', '2024-03-02', 7) RETURNING label, amount;
COPY labels (address, label, amount) FROM STDIN;
\\x03	copied	1
\\x04	copied too	2
\.
SELECT encode(address, 'hex') AS address, label, updated_at, amount FROM labels ORDER BY address;
-- reads run one DuneSQL statement, as for Dune's own tables: the columns, the filter, the order
EXPLAIN (VERBOSE, COSTS OFF) SELECT label FROM labels WHERE amount > 1 ORDER BY label;
SELECT label FROM labels WHERE amount > 1 ORDER BY label;

-- batches of insert_batch_bytes: one request each, in order
ALTER FOREIGN TABLE labels OPTIONS (ADD insert_batch_bytes '1024');
SELECT emulator('reset') IS NOT NULL AS reset;
INSERT INTO labels SELECT decode(lpad(to_hex(i), 8, '0'), 'hex'), 'bulk ' || i, '2024-01-01'::timestamptz + i * interval '1 hour', i
FROM generate_series(1, 100) i;
SELECT e -> 'requests' -> 'uploads_insert' AS insert_requests FROM emulator() e;
SELECT count(*) AS rows, count(DISTINCT address) AS distinct_rows FROM labels;

-- values Dune's types cannot hold: the row and the column are named, nothing of that batch is sent
SELECT show_error($$INSERT INTO labels VALUES ('\x05', 'ok', NULL, 1), ('\x06', 'negative', NULL, -1)$$);
SELECT show_error($$INSERT INTO labels VALUES ('\x07', 'too big', NULL, 2 ^ 256::numeric)$$);
SELECT show_error($$INSERT INTO labels VALUES ('\x08', 'fraction', NULL, 1.5)$$);
SELECT show_error($$INSERT INTO labels VALUES ('\x09', 'never', 'infinity', 1)$$);
SELECT count(*) AS rows FROM labels WHERE label IN ('ok', 'negative', 'too big', 'fraction', 'never');
-- a bad value after batches were written: the error says how many rows of the statement are in Dune
SELECT count(*) AS before FROM labels;
SELECT show_error($$INSERT INTO labels SELECT decode(lpad(to_hex(1000 + i), 8, '0'), 'hex'), 'late ' || i, NULL,
                     CASE WHEN i = 95 THEN -1 ELSE i END FROM generate_series(1, 100) i$$);
SELECT count(*) AS after FROM labels;
-- a NULL for a Dune column that is not nullable (Dune's schema says so): refused before anything is sent
SELECT show_error($$INSERT INTO labels VALUES (NULL, 'no address', NULL, 1)$$);

-- declarations Dune cannot take are refused before anything is sent
CREATE FOREIGN TABLE labels_text (address text, label text) SERVER dune OPTIONS (dune_table 'dune_fdw_emulator.labels');
ALTER FOREIGN TABLE labels_text ALTER COLUMN address OPTIONS (ADD dune_type 'varbinary');
SELECT show_error($$INSERT INTO labels_text VALUES ('0xdead', 'text into varbinary')$$);
CREATE FOREIGN TABLE labels_bytes (address bytea, label bytea) SERVER dune OPTIONS (dune_table 'dune_fdw_emulator.labels');
ALTER FOREIGN TABLE labels_bytes ALTER COLUMN label OPTIONS (ADD dune_type 'varchar');
SELECT show_error($$INSERT INTO labels_bytes VALUES ('\x0a', '\x0b')$$);
CREATE FOREIGN TABLE labels_range (address bytea, during tstzrange) SERVER dune OPTIONS (dune_table 'dune_fdw_emulator.labels');
SELECT show_error($$INSERT INTO labels_range VALUES ('\x0a', NULL)$$);

-- without dune_type, a column takes the Dune table's type (uint256 here: exact digits)
CREATE FOREIGN TABLE labels_plain (address bytea, amount numeric) SERVER dune OPTIONS (dune_table 'dune_fdw_emulator.labels');
INSERT INTO labels_plain VALUES ('\x20', 2::numeric ^ 200);
SELECT amount = 2::numeric ^ 200 AS exact FROM labels WHERE address = '\x20';
-- without dune_type, a column is compared as the upload types it (read for free when planned):
-- bytea over a varchar column is not sent as a varbinary comparison Dune would refuse
CREATE FOREIGN TABLE labels_mistyped (address bytea, label bytea) SERVER dune OPTIONS (dune_table 'dune_fdw_emulator.labels');
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM labels_mistyped WHERE label = 'first'::bytea AND address = '\x20';
-- (reading its varchar values as bytea then fails on the first value, naming it)
SELECT show_error($$SELECT count(*) FROM labels_mistyped WHERE label = 'first'::bytea$$);
-- a bigint into a Dune double, a dropped column, a column Dune does not have, a table Dune does not have
CREATE FOREIGN TABLE wallets_ft (address bytea, gone text, ratio bigint) SERVER dune OPTIONS (dune_table 'dune_fdw_emulator.wallets');
ALTER FOREIGN TABLE wallets_ft DROP COLUMN gone;
INSERT INTO wallets_ft VALUES ('\x21', 3000000000);
SELECT encode(address, 'hex') AS address, ratio FROM wallets_ft;
CREATE FOREIGN TABLE labels_extra (address bytea, extra text) SERVER dune OPTIONS (dune_table 'dune_fdw_emulator.labels');
SELECT show_error($$INSERT INTO labels_extra VALUES ('\x22', 'x')$$);
-- reading it fails before an execution is run (and billed): the columns are checked first
SELECT emulator('reset') IS NOT NULL AS reset;
SELECT show_error($$SELECT * FROM labels_extra$$);
SELECT e -> 'executions_created' AS executions FROM emulator() e;
CREATE FOREIGN TABLE missing (address bytea) SERVER dune OPTIONS (dune_table 'dune_fdw_emulator.missing');
SELECT show_error($$INSERT INTO missing VALUES ('\x23')$$);
-- rows routed to a foreign partition
CREATE TABLE routed (address bytea, label text) PARTITION BY LIST (label);
CREATE TABLE routed_local PARTITION OF routed DEFAULT;
CREATE FOREIGN TABLE routed_dune PARTITION OF routed FOR VALUES IN ('to dune') SERVER dune OPTIONS (dune_table 'dune_fdw_emulator.labels');
INSERT INTO routed VALUES ('\x24', 'to dune'), ('\x25', 'stays here');
SELECT encode(address, 'hex') AS address, label FROM labels WHERE address IN ('\x24', '\x25');
SELECT count(*) AS kept_locally FROM routed_local;
SELECT show_error($$INSERT INTO routed VALUES ('\x26', 'to dune') ON CONFLICT DO NOTHING$$);
DROP TABLE routed;

-- Dune's uploads only append and clear
SELECT show_error($$UPDATE labels SET label = 'x'$$);
SELECT show_error($$DELETE FROM labels WHERE label = 'first'$$);
SELECT show_error($$INSERT INTO labels VALUES ('\x0c', 'x', NULL, 1) ON CONFLICT DO NOTHING$$);
SELECT table_name, is_insertable_into FROM information_schema.tables WHERE table_name IN ('labels', 'spans') ORDER BY 1;
-- a table of query results cannot be written
CREATE FOREIGN TABLE some_result (n int) SERVER dune OPTIONS (query_id '1252207');
SELECT show_error($$INSERT INTO some_result VALUES (1)$$);
SELECT show_error($$TRUNCATE some_result$$);
SELECT show_error($$CREATE FOREIGN TABLE bad_name (a text) SERVER dune OPTIONS (dune_table 'labels')$$);
SELECT show_error($$CREATE FOREIGN TABLE two_sources (a text) SERVER dune OPTIONS (dune_table 'dune_fdw_emulator.labels', query_id '1')$$);

-- inside a transaction block: a WARNING once, and a rollback does not un-write Dune
SELECT count(*) AS before FROM labels;
BEGIN;
INSERT INTO labels VALUES ('\x10', 'in a transaction', NULL, 1);
INSERT INTO labels VALUES ('\x11', 'again', NULL, 1);
ROLLBACK;
SELECT count(*) AS after_rollback FROM labels;

-- TRUNCATE clears the Dune table; dune_clear_table does the same
TRUNCATE labels;
SELECT count(*) AS rows FROM labels;
INSERT INTO labels VALUES ('\x12', 'after truncate', NULL, 1);
SELECT dune_clear_table('dune_fdw_emulator', 'labels');
SELECT count(*) AS rows FROM labels;

-- CSV uploads (Dune infers the types), a key with the Read scope, and drops
SELECT dune_upload_csv('prices', E'symbol,price\nETH,3100.5\nBTC,64000\n') ->> 'table_name' AS uploaded;
CREATE FOREIGN TABLE prices (symbol text, price float8) SERVER dune OPTIONS (dune_table 'dune_fdw_emulator.dataset_prices');
SELECT * FROM prices ORDER BY symbol;
SELECT show_error($$SELECT dune_upload_csv('prices', '')$$);
SELECT show_error($$SELECT dune_upload_csv('Prices', 'a\n1')$$);
ALTER USER MAPPING FOR CURRENT_USER SERVER dune OPTIONS (SET api_key 'emulator-read-key');
SELECT show_error($$INSERT INTO labels VALUES ('\x13', 'read key', NULL, 1)$$);
SELECT show_error($$SELECT dune_drop_table('dune_fdw_emulator', 'dataset_prices')$$);
SELECT count(*) AS tables_readable FROM dune_tables();
ALTER USER MAPPING FOR CURRENT_USER SERVER dune OPTIONS (SET api_key 'emulator-key');
SELECT dune_drop_table('dune_fdw_emulator', 'dataset_prices');
SELECT show_error($$SELECT dune_drop_table('dune_fdw_emulator', 'dataset_prices')$$);
SELECT show_error($$SELECT * FROM prices$$);
SELECT dune_drop_table('dune_fdw_emulator', 'labels'), dune_drop_table('dune_fdw_emulator', 'wallets');
DROP FOREIGN TABLE labels, labels_text, labels_bytes, labels_range, some_result, prices, labels_plain,
    wallets_ft, labels_extra, missing;
DROP TABLE wallets, spans;
