-- Bad input gets a clear error, and nothing reaches Dune that the user did not mean: after each
-- group, the emulator's log shows exactly what it received.
SELECT emulator('reset') IS NOT NULL AS reset;
-- query ids
SELECT show_error($$SELECT dune_execute(0)$$);
SELECT show_error($$SELECT dune_execute(-5)$$);
SELECT show_error($$SELECT * FROM dune_latest(-1)$$);
-- params: not an object, nested, huge, empty names
SELECT show_error($$SELECT dune_execute(1252207, '[1, 2]')$$);
SELECT show_error($$SELECT dune_execute(1252207, '"day"')$$);
SELECT show_error($$SELECT dune_execute(1252207, '{"Time Period": {"nested": "day"}}')$$);
SELECT show_error($$SELECT dune_execute(1252207, '{"": "day"}')$$);
SELECT show_error(format($$SELECT dune_execute(1252207, '{"Time Period": "%s"}')$$, repeat('x', 200000)));
-- performance tiers
SELECT show_error($$SELECT dune_execute(1252207, performance => 'turbo')$$);
SELECT show_error($$SELECT dune_execute_sql('SELECT 1', performance => '')$$);
-- execution ids: malformed (path tricks, too short, not alphanumeric)
SELECT show_error($$SELECT dune_status('../../query/1')$$);
SELECT show_error($$SELECT dune_status('01HKZ')$$);
SELECT show_error($$SELECT dune_status('01HKZJ2683PHF9Q9PHHQ8FW4Q1?x=1')$$);
SELECT show_error($$SELECT dune_cancel('')$$);
SELECT show_error($$SELECT * FROM dune_results('01HKZJ2683PHF9Q9PHHQ8FW4Q1/cancel')$$);
-- raw SQL: empty
SELECT show_error($$SELECT dune_execute_sql('   ')$$);
-- none of the above reached the emulator
SELECT emulator()->'total_requests' AS requests_received;
-- well-formed but unknown: sent, and Dune's answer explained
SELECT show_error($$SELECT dune_execute(424242)$$);
SELECT show_error($$SELECT dune_status('01HKZJ2683PHF9Q9PHHQ8FW4Q2')$$);
SELECT e->>'method' AS method, e->>'path' AS path, e->>'body' AS body
    FROM jsonb_array_elements(emulator('log')->'log') e;
-- api_url: malformed or pointing elsewhere than an http(s) API (checked when set)
SELECT show_error($$CREATE SERVER bad1 FOREIGN DATA WRAPPER dune_fdw OPTIONS (api_url 'api.dune.com')$$);
SELECT show_error($$CREATE SERVER bad2 FOREIGN DATA WRAPPER dune_fdw OPTIONS (api_url 'http://')$$);
SELECT show_error($$CREATE SERVER bad3 FOREIGN DATA WRAPPER dune_fdw OPTIONS (api_url 'https://api.dune.com/api?key=1')$$);
SELECT show_error($$CREATE SERVER bad4 FOREIGN DATA WRAPPER dune_fdw OPTIONS (api_url 'file:///etc/passwd')$$);
-- filter values full of quotes, backslashes and unicode reach Dune intact (and match nothing
-- here); the filter is exactly what was asked
CREATE FOREIGN TABLE odd_trades (block_time timestamptz, project text, usd_amount float8)
    SERVER dune OPTIONS (query_id '1258228');
SELECT emulator('reset') IS NOT NULL AS reset;
SELECT count(*) FROM odd_trades WHERE project = $$it's a "quote" \ back\slash ü ☃ %_$$;
SELECT count(*) FROM odd_trades WHERE project IN ('O''Reilly', '\', '"', 'ünï', 'a'' OR ''1''=''1');
SELECT count(*) FROM odd_trades WHERE project LIKE '%''%' ORDER BY 1;
SELECT p->>0 AS param, p->>1 AS value_received
    FROM jsonb_array_elements(emulator('log')->'log') e, jsonb_array_elements(e->'params') p
    WHERE p->>0 IN ('columns', 'filters', 'sort_by');
-- column names with spaces, quotes and dots: mapped with column_name, sent quoted, and a name
-- the result does not have is a clear error naming the columns it does have
CREATE FOREIGN TABLE odd_columns ("my project" text, "usd ""amount""" float8, "a.b" text)
    SERVER dune OPTIONS (query_id '1258228');
ALTER FOREIGN TABLE odd_columns ALTER COLUMN "my project" OPTIONS (column_name 'project');
ALTER FOREIGN TABLE odd_columns ALTER COLUMN "usd ""amount""" OPTIONS (column_name 'usd_amount', dune_type 'double');
ALTER FOREIGN TABLE odd_columns ALTER COLUMN "a.b" OPTIONS (column_name 'token_pair');
SELECT emulator('reset') IS NOT NULL AS reset;
SELECT "my project", "usd ""amount""", "a.b" FROM odd_columns ORDER BY "usd ""amount""" DESC NULLS LAST LIMIT 2;
SELECT p->>0 AS param, p->>1 AS value_received
    FROM jsonb_array_elements(emulator('log')->'log') e, jsonb_array_elements(e->'params') p
    WHERE p->>0 IN ('columns', 'filters', 'sort_by');
ALTER FOREIGN TABLE odd_columns ALTER COLUMN "a.b" OPTIONS (SET column_name 'token "pair", x.y');
SELECT show_error($$SELECT "a.b" FROM odd_columns$$);
SELECT p->>0 AS param, p->>1 AS value_received
    FROM jsonb_array_elements(emulator('log')->'log') e, jsonb_array_elements(e->'params') p
    WHERE p->>0 IN ('columns', 'filters', 'sort_by');
DROP FOREIGN TABLE odd_trades, odd_columns;
-- the tiers of the Execute Query reference are all accepted
SELECT count(*) FROM dune_run(3493826, performance => 'small');
-- an empty multi-select list cannot be asked for (the latest-results request cannot say it)
SELECT show_error($$SELECT * FROM dune_latest(1252207, '{"chains": []}')$$);
SELECT show_error($$SELECT dune_execute(9000007, '{"chains": []}')$$);
-- a multi-select list travels as Dune encodes it: a JSON list on execute, the name repeated on
-- latest results; both select the same parameter combination
SELECT dune_wait(dune_execute(9000007, '{"chains": ["base", "arbitrum"]}')) ->> 'state' AS state;
SELECT count(*) FROM dune_latest(9000007, '{"chains": ["base", "arbitrum"]}');
SELECT show_error($$SELECT * FROM dune_latest(9000007, '{"chains": ["arbitrum"]}')$$);
