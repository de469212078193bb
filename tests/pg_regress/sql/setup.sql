-- Installs the extension and points the server dune at the emulator started by scripts/test.sh.
\getenv api_url DUNE_API_URL
CREATE EXTENSION dune_fdw;
-- what CREATE EXTENSION made: the wrapper and a server pointing at the real API
SELECT fdwname, fdwhandler::regproc, fdwvalidator::regproc FROM pg_foreign_data_wrapper WHERE fdwname = 'dune_fdw';
SELECT srvname, srvoptions FROM pg_foreign_server WHERE srvname = 'dune';
SHOW dune_fdw.server;
-- tests talk to the emulator
ALTER SERVER dune OPTIONS (SET api_url :'api_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER dune OPTIONS (api_key 'emulator-key');
-- show_error(sql): the error a statement raises, with its SQLSTATE, DETAIL and HINT, and
-- execution ids masked (but the example id of error messages) so that outputs are stable
CREATE FUNCTION show_error(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text; msg text; det text; hnt text;
BEGIN
    EXECUTE sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    RETURN regexp_replace(
        st || ': ' || msg
        || CASE WHEN det <> '' THEN E'\nDETAIL: ' || det ELSE '' END
        || CASE WHEN hnt <> '' THEN E'\nHINT: ' || hnt ELSE '' END,
        '01(?!HKZJ2683PHF9Q9PHHQ8FW4Q1)[0-9A-HJKMNP-TV-Z]{24}', '<execution_id>', 'g');
END $$;
