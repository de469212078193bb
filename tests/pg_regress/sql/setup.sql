-- Installs the extension and points the server dune at the emulator started by scripts/test.sh.
\getenv api_url DUNE_API_URL
CREATE EXTENSION dune_fdw;
-- what CREATE EXTENSION made: the wrapper and a server pointing at the real API
SELECT fdwname, fdwhandler::regproc, fdwvalidator::regproc FROM pg_foreign_data_wrapper WHERE fdwname = 'dune_fdw';
SELECT srvname, srvoptions FROM pg_foreign_server WHERE srvname = 'dune';
SHOW dune_fdw.server;
-- progress NOTICEs carry timings, which would make outputs unstable: tests/ux/progress.py
-- checks them
ALTER DATABASE dune_fdw_regress SET dune_fdw.progress = off;
-- tests talk to the emulator; they check the requests a statement sends, so the result cache
-- (which would answer repeated reads itself) is off here: credits.sql tests it
ALTER SERVER dune OPTIONS (SET api_url :'api_url', ADD cache 'off');
CREATE USER MAPPING FOR CURRENT_USER SERVER dune OPTIONS (api_key 'emulator-key');
-- the roles the tests act as (roles belong to the cluster: made once, whichever test runs)
DO $$
DECLARE r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['dune_analyst', 'dune_outsider', 'dune_viewer', 'dune_server_owner'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I', r);
        END IF;
    END LOOP;
END $$;
-- show_error(sql): the error a statement raises, with its SQLSTATE, DETAIL, HINT and CONTEXT, and
-- execution ids masked (but the example id of error messages) so that outputs are stable
CREATE FUNCTION show_error(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text; msg text; det text; hnt text; ctx text;
BEGIN
    EXECUTE sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL,
        hnt = PG_EXCEPTION_HINT, ctx = PG_EXCEPTION_CONTEXT;
    -- of the context, only dune_fdw's own line (column, table, row, value) is kept
    ctx := substring(ctx from '(column "[^\n]*)');
    RETURN regexp_replace(
        st || ': ' || msg
        || CASE WHEN det <> '' THEN E'\nDETAIL: ' || det ELSE '' END
        || CASE WHEN hnt <> '' THEN E'\nHINT: ' || hnt ELSE '' END
        || CASE WHEN ctx IS NOT NULL THEN E'\nCONTEXT: ' || ctx ELSE '' END,
        '01(?!HKZJ2683PHF9Q9PHHQ8FW4Q1)[0-9A-HJKMNP-TV-Z]{24}', '<execution_id>', 'g');
END $$;
-- emulator(action): the emulator's counters ('stats': requests by route, rows and datapoints
-- served, executions created, cancels; 'log': the same with the last requests received, keys
-- left out) or 'reset' them; read over HTTP with curl
CREATE TABLE emulator_config AS SELECT :'api_url' AS api_url;
CREATE FUNCTION emulator(action text DEFAULT 'stats') RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    root text := (SELECT regexp_replace(api_url, '/api$', '') FROM emulator_config);
    cmd text;
    doc text;
BEGIN
    cmd := CASE action
        WHEN 'stats' THEN format('curl -s %s/_emulator/stats?brief=1', root)
        WHEN 'log' THEN format('curl -s %s/_emulator/stats', root)
        WHEN 'reset' THEN format('curl -s -X POST %s/_emulator/reset', root)
    END;
    IF to_regclass('pg_temp.emulator_out') IS NULL THEN
        CREATE TEMP TABLE emulator_out (line text);
    END IF;

    TRUNCATE emulator_out;
    EXECUTE format('COPY emulator_out FROM PROGRAM %L WITH (FORMAT csv, QUOTE %L, DELIMITER %L)', cmd, E'\x01', E'\x02');
    SELECT string_agg(line, '') INTO doc FROM emulator_out;
    RETURN doc::jsonb;
END $$;
