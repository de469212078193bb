-- Query management and the account's usage: reading, creating and changing saved queries
-- (API reference §8), the credits used (§16), and what a key with the Read scope may not do.
SELECT q ->> 'name' AS name, q -> 'parameters' AS parameters, q -> 'is_archived' AS archived
FROM dune_query(1252207) q;
SELECT dune_query(NULL) IS NULL AS null_for_null;
SELECT show_error($$SELECT dune_query(0)$$);
SELECT show_error($$SELECT dune_query(424242)$$);

-- create, read back, change, run
SELECT dune_create_query('Two numbers', 'select 1 as one, ''two'' as two',
                         '[{"key": "n", "type": "number", "value": "1"}]', false, 'made by the tests') AS qid \gset
SELECT :qid >= 50000000 AS created;
SELECT q ->> 'name' AS name, q ->> 'query_sql' AS sql, q -> 'is_private' AS private, q -> 'version' AS version,
       q -> 'parameters' AS parameters, q ->> 'description' AS description
FROM dune_query(:qid) q;
SELECT dune_update_query(:qid, sql => 'select 2 as one, ''deux'' as two') = :qid AS updated;
SELECT q ->> 'query_sql' AS sql, q -> 'version' AS version, q ->> 'name' AS name_kept FROM dune_query(:qid) q;
SELECT * FROM dune_run(:qid);
-- nothing to change: nothing is sent
SELECT emulator('reset') IS NOT NULL AS reset;
SELECT dune_update_query(:qid) = :qid AS unchanged;
SELECT e -> 'total_requests' AS requests FROM emulator() e;
-- an empty list deletes the parameters
SELECT dune_update_query(:qid, parameters => '[]') = :qid AS updated;
SELECT q -> 'parameters' AS parameters FROM dune_query(:qid) q;

-- private, public, archived
SELECT dune_make_private(:qid) AS done, dune_query(:qid) -> 'is_private' AS private;
SELECT dune_make_private(:qid, false) AS done, dune_query(:qid) -> 'is_private' AS private;
SELECT dune_archive_query(:qid) AS done, dune_query(:qid) -> 'is_archived' AS archived;
SELECT show_error(format('SELECT dune_execute(%s)', :qid));
SELECT dune_unarchive_query(:qid) AS done, dune_query(:qid) -> 'is_archived' AS archived;
SELECT query_id = :qid AS ours, name, owner, description, tags, created_at IS NOT NULL AS dated
FROM dune_queries() WHERE query_id = :qid;
SELECT count(*) >= 14 AS listed FROM dune_queries();
-- an archived query can be neither run nor changed until it is brought back
SELECT dune_archive_query(:qid) AS done;
SELECT show_error(format($$SELECT dune_update_query(%s, name => 'renamed')$$, :qid));
SELECT dune_unarchive_query(:qid) AS done;

-- bad input is refused before anything is sent
SELECT emulator('reset') IS NOT NULL AS reset;
SELECT show_error($$SELECT dune_create_query('', 'select 1')$$);
SELECT show_error($$SELECT dune_create_query('x', '  ')$$);
SELECT show_error($$SELECT dune_create_query('x', 'select 1', '{"key": "n"}')$$);
SELECT show_error($$SELECT dune_create_query('x', 'select 1', '[{"type": "text", "value": "a"}]')$$);
SELECT show_error($$SELECT dune_create_query('x', 'select 1', '[{"key": "n", "type": "integer", "value": "1"}]')$$);
SELECT show_error($$SELECT dune_create_query('x', 'select 1', '[{"key": "n", "type": "number", "value": 1}]')$$);
SELECT show_error($$SELECT dune_update_query(0, name => 'x')$$);
SELECT show_error(format($$SELECT dune_update_query(%s, name => ' ')$$, :qid));
SELECT show_error($$SELECT dune_archive_query(-1)$$);
SELECT e -> 'total_requests' AS requests FROM emulator() e;
SELECT show_error($$SELECT dune_update_query(424242, name => 'x')$$);

-- a key with the Read scope reads but may not write
SELECT api_url AS api_url FROM emulator_config \gset
CREATE SERVER dune_read FOREIGN DATA WRAPPER dune_fdw OPTIONS (api_url :'api_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER dune_read OPTIONS (api_key 'emulator-read-key');
SET dune_fdw.server = 'dune_read';
SELECT dune_query(1252207) ->> 'name' AS name;
SELECT show_error($$SELECT dune_create_query('x', 'select 1')$$);
SELECT show_error(format('SELECT dune_archive_query(%s)', :qid));
RESET dune_fdw.server;

-- the credits used, by billing period
SELECT count(*) AS periods, bool_and(credits_used > 0) AS billed, bool_and(credits_included > 0) AS included,
       bool_and(start_date <= current_date AND end_date > current_date) AS this_month,
       bool_and(bytes_allowed > 0) AS storage
FROM dune_usage();
SELECT count(*) AS periods FROM dune_usage('2001-01-01', '2001-01-31');
SELECT count(*) AS periods FROM dune_usage(current_date);
SELECT show_error($$SELECT * FROM dune_usage('infinity')$$);
SELECT show_error($$SELECT * FROM dune_usage('2024-03-02', '2024-03-01')$$);
-- a create that fails after it may have reached Dune is not sent again, and says so
CREATE FUNCTION emulator_fault(rule text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE root text := (SELECT regexp_replace(api_url, '/api$', '') FROM emulator_config);
BEGIN
    PERFORM emulator('stats');
    EXECUTE format('COPY emulator_out FROM PROGRAM %L WITH (FORMAT csv, QUOTE %L, DELIMITER %L)',
                   format('curl -s -X POST -d ''%s'' %s/_emulator/faults', rule, root), E'\x01', E'\x02');
END $$;
SELECT emulator('reset') IS NOT NULL AS reset;
SELECT emulator_fault('{"route": "create_query", "status": 502}');
SELECT show_error($$SELECT dune_create_query('maybe', 'select 1')$$);
SELECT e -> 'requests' -> 'create_query' AS creates FROM emulator() e;
