-- IMPORT FOREIGN SCHEMA: one table per query, named query_<id>, typed from the latest result.
CREATE SCHEMA analytics;
IMPORT FOREIGN SCHEMA dune LIMIT TO (query_1258228, query_1252207) FROM SERVER dune INTO analytics;
\det+ analytics.*
\d analytics.query_1258228
\d analytics.query_1252207
SELECT "Rank", project, "Total Volume" FROM analytics.query_1252207 ORDER BY "Rank" LIMIT 3;
SELECT block_time, project, usd_amount, token_bought_amount_raw, maker, tx_hash FROM analytics.query_1258228 ORDER BY block_time LIMIT 2;
-- OPTIONS pass through to every table
CREATE SCHEMA weekly;
IMPORT FOREIGN SCHEMA dune LIMIT TO (query_1252207) FROM SERVER dune INTO weekly
    OPTIONS (params '{"Time Period": "week"}', mode 'execute', fetch_size '10');
\det+ weekly.*
SELECT count(*) FROM weekly.query_1252207;
-- every type, with NULLs and edge values
CREATE SCHEMA typed;
IMPORT FOREIGN SCHEMA dune LIMIT TO (query_9000001) FROM SERVER dune INTO typed;
\d typed.query_9000001
SELECT * FROM typed.query_9000001;
SELECT v_uint256 > 2::numeric ^ 64 AS above_2_64, v_uint256 + 1 AS plus_one, v_varbinary, length(v_varbinary) AS bytes
FROM typed.query_9000001 WHERE v_uint256 IS NOT NULL;
-- Dune names that PostgreSQL would truncate to the same 63 bytes stay distinct, mapped back
-- with column_name
CREATE SCHEMA long_names;
IMPORT FOREIGN SCHEMA dune LIMIT TO (query_9000008) FROM SERVER dune INTO long_names;
\d long_names.query_9000008
SELECT * FROM long_names.query_9000008;
-- a result without columns cannot be imported: a clear error under LIMIT TO, a NOTICE without
SELECT show_error($$IMPORT FOREIGN SCHEMA dune LIMIT TO (query_9000009) FROM SERVER dune INTO long_names$$);
-- without LIMIT TO: the account's queries that have a latest result
CREATE SCHEMA everything;
IMPORT FOREIGN SCHEMA dune EXCEPT (query_9100001, query_9100002) FROM SERVER dune INTO everything;
SELECT foreign_table_name FROM information_schema.foreign_tables WHERE foreign_table_schema = 'everything' ORDER BY 1;
-- errors
SELECT show_error($$IMPORT FOREIGN SCHEMA dune LIMIT TO (dex_trades) FROM SERVER dune INTO analytics$$);
SELECT show_error($$IMPORT FOREIGN SCHEMA dune LIMIT TO (query_9000002) FROM SERVER dune INTO analytics$$);
SELECT show_error($$IMPORT FOREIGN SCHEMA dune LIMIT TO (query_424242) FROM SERVER dune INTO analytics$$);
SELECT show_error($$IMPORT FOREIGN SCHEMA dune LIMIT TO (query_1252207) FROM SERVER dune INTO analytics OPTIONS (query_id '5')$$);
SELECT show_error($$IMPORT FOREIGN SCHEMA dune LIMIT TO (query_1252207) FROM SERVER dune INTO analytics OPTIONS (mode 'sometimes')$$);
