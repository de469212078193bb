-- The jsonb functions build each row's jsonb on the I/O thread. Every row must be exactly what
-- jsonb_in makes of the JSON text Dune sent (read here straight from the emulator with curl):
-- the same value, the same text, the same size (the binary layout) and the same hash.
\getenv api_url DUNE_API_URL
CREATE FUNCTION dune_page(path text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    doc text;
BEGIN
    IF to_regclass('pg_temp.page_out') IS NULL THEN
        CREATE TEMP TABLE page_out (line text);
    END IF;
    TRUNCATE page_out;
    EXECUTE format('COPY page_out FROM PROGRAM %L WITH (FORMAT csv, QUOTE %L, DELIMITER %L)',
        format('curl -s -H "X-Dune-Api-Key: emulator-key" "%s/v1%s"', (SELECT api_url FROM emulator_config), path),
        E'\x01', E'\x02');
    SELECT string_agg(line, E'\n') INTO doc FROM page_out;
    RETURN doc::jsonb;
END $$;
CREATE FUNCTION compare_rows(execution_id text) RETURNS TABLE (rows bigint, differ bigint) LANGUAGE sql AS $$
    SELECT dune_wait(execution_id);
    WITH ours AS (SELECT r, row_number() OVER () AS n FROM dune_results(execution_id) r),
         theirs AS (SELECT e, n FROM jsonb_array_elements(
             dune_page('/execution/' || execution_id || '/results?limit=30000') -> 'result' -> 'rows')
             WITH ORDINALITY AS x(e, n))
    SELECT count(*), count(*) FILTER (WHERE o.r IS DISTINCT FROM t.e OR o.r::text IS DISTINCT FROM t.e::text
        OR pg_column_size(o.r) IS DISTINCT FROM pg_column_size(t.e)
        OR jsonb_hash_extended(o.r, 42) IS DISTINCT FROM jsonb_hash_extended(t.e, 42))
    FROM ours o FULL JOIN theirs t USING (n)
$$;
-- every Dune type with its edge values (uint256 and int256 extremes, doubles near the ends of
-- their range, unicode, nested arrays, maps and rows, NULLs), documentation rows, and 3,000
-- synthetic rows of eight columns
SELECT 'every type' AS result, * FROM compare_rows(dune_execute(9000001))
UNION ALL SELECT 'NFT marketplaces', * FROM compare_rows(dune_execute(1252207))
UNION ALL SELECT 'DEX trades', * FROM compare_rows(dune_execute(1258228))
UNION ALL SELECT 'synthetic', * FROM compare_rows(dune_execute(9100001, '{"rows": "3000"}'));
-- lookups use the binary layout (keys sorted by length, then bytes)
SELECT r -> 'v_uint256' AS uint256, r -> 'v_double' AS double, r #> '{v_row,b}' AS row_b,
       r ? 'v_map' AS has_map, jsonb_typeof(r -> 'v_array') AS array
FROM dune_results(dune_execute(9000001)) r
WHERE r ->> 'v_varchar' IS NOT NULL
ORDER BY r ->> 'v_bigint' LIMIT 3;
