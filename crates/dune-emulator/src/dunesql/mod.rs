//! Raw DuneSQL (`POST /v1/sql/execute`, and queries created with SQL) run for real over a
//! small deterministic catalog ([`crate::warehouse`]: `dex.trades`, `tokens.erc20`) and the
//! uploaded tables (`dune.<namespace>.<table>`), on SQLite (compiled in through `rusqlite`'s
//! `bundled` feature) after a dialect translation from DuneSQL (Trino) to SQLite. The
//! translation is done on tokens with a small analysis of scopes and types; it is not a
//! parser of all of Trino, and what it does not know fails rather than guesses.
//!
//! The statement runs when the execution is created, on the tables as they are then (the
//! execution's snapshot); `now()` is that moment. The database is built once, in memory; an
//! uploaded table is copied in when a statement first reads it and refreshed (new chunks
//! appended, or rebuilt after a clear, a delete or a re-creation) when it changed since.
//!
//! # Translated
//! - Names: `dex.trades`, `tokens.erc20` and `dune.<ns>.<table>` become one SQLite table
//!   each, with the table's last name part as its default alias (so `trades.col` resolves),
//!   and `dex.trades.col` becomes `trades.col`; identifiers, quoted or not, are folded to
//!   lowercase (Trino's identifiers are case-insensitive); `WITH` queries and subqueries keep
//!   their names. An unknown table fails: `line 1:15: Table 'x.y' does not exist`.
//! - Literals: `0xABCD` and `X'ABCD'` → blobs (an odd number of digits fails); `TIMESTAMP
//!   '2024-01-01 00:00:00[.fff][ UTC|Z|±hh:mm]'` and `DATE '2024-01-01'` → microseconds;
//!   `INTERVAL 'n' SECOND|MINUTE|HOUR|DAY` → microseconds, so `block_time - INTERVAL '7' DAY`
//!   is integer arithmetic; `now()`, `current_timestamp`, `localtimestamp`, `current_date`
//!   → the execution's creation time. A string literal compared with a date or timestamp
//!   column (`col >= '2024-02-01'`, `'…' < col`, `col BETWEEN '…' AND '…'`, `col IN ('…')`)
//!   is cast to the column's type, as Trino casts it; compared with a column of another
//!   type (`taker = '0x12'`, `block_number = '7'`) it fails with Trino's `Cannot apply
//!   operator: varbinary = varchar(4)` (SQLite would answer).
//! - `CAST(x AS t)` / `TRY_CAST` → `dune_cast(x, from, to, try)`, a function with Trino's
//!   rules (a double rounds half away from zero to an integer, text parses or fails, a
//!   timestamp prints `2024-01-01 00:00:00.000 UTC`, an integer out of range fails);
//!   `t` is one of varchar, varbinary, boolean, integer, bigint, double, uint256, int256,
//!   date, timestamp [with time zone].
//! - Operators: `IS [NOT] DISTINCT FROM` → `IS [NOT]`; `||`, arithmetic, comparisons, `AND`,
//!   `OR`, `NOT`, `IN`, `BETWEEN`, `LIKE … [ESCAPE …]`, `IS [NOT] NULL`, `EXISTS`, `CASE`
//!   pass through.
//! - Functions (any other is `Function 'f' not registered`): `count`, `count(DISTINCT x)`,
//!   `sum`, `min`, `max`, `avg`, `count_if`, `approx_distinct` (exact here), `arbitrary`/
//!   `any_value`/`bool_and`/`every` (→ `min`), `bool_or` (→ `max`), `FILTER (WHERE …)`;
//!   `row_number`, `rank`, `dense_rank` and aggregates with `OVER (PARTITION BY … ORDER BY
//!   …)`; `abs`, `round`, `floor`, `ceil`, `coalesce`, `nullif`, `greatest`/`least` (→
//!   `max`/`min`), `if` (→ `iif`), `lower`, `upper`, `length`, `trim`, `ltrim`, `rtrim`,
//!   `replace`, `substr`/`substring`, `concat` (→ `||`, NULL if any argument is), `strpos`
//!   (→ `instr`), `starts_with`, `to_hex` (uppercase, as Trino), `from_hex`, `date_trunc`,
//!   `year`, `quarter`, `month`, `day`, `day_of_week`/`dow`, `day_of_year`/`doy`, `hour`,
//!   `minute`, `second`, `date`, `to_unixtime`, `from_unixtime`.
//! - Clauses: `SELECT [DISTINCT]`, `FROM` with `,`, `[INNER|LEFT|RIGHT|FULL|CROSS] JOIN … ON
//!   | USING`, `WHERE`, `GROUP BY` (expressions or ordinals), `HAVING`, `UNION|INTERSECT|EXCEPT
//!   [ALL]`, `WITH`; `ORDER BY … [ASC|DESC] [NULLS FIRST|LAST]` gets `NULLS LAST` where none
//!   is given (Trino's default in both directions; SQLite puts NULLs first ascending);
//!   `LIMIT n`, `OFFSET n [ROWS]`, `FETCH FIRST n ROWS ONLY` in any of Trino's orders →
//!   `LIMIT n OFFSET m`.
//!
//! # Trino semantics emulated
//! - Storage: varchar as TEXT, varbinary as BLOB, boolean as 0/1, integers as 64-bit
//!   integers, uint256 and int256 as their digits with a collation that compares them as
//!   numbers (`sum` exact, `min`/`max`/`ORDER BY`/`GROUP BY` over all 256 bits), double as
//!   REAL, dates and timestamps as microseconds since the epoch (UTC),
//!   so varchar compares by code point (SQLite's BINARY collation on UTF-8), varbinary
//!   bytewise, timestamps as instants, and a date with a timestamp as Trino casts it.
//! - `LIKE` is case-sensitive (`PRAGMA case_sensitive_like`); `"x"` is always an identifier
//!   (SQLite's double-quoted string literals are turned off); integer division truncates
//!   toward zero, as in both; `count(*)` of nothing is 0 and `sum` of nothing is NULL.
//! - An aggregated query (with `GROUP BY`, `HAVING` or an aggregate) may select only
//!   aggregates, grouped expressions and expressions of grouped columns: otherwise it fails
//!   with `'x' must be an aggregate expression or appear in GROUP BY clause` (SQLite would
//!   answer with an arbitrary row's value).
//! - Result columns are named as Trino names them (the alias, the column's name, else
//!   `_col<n>`) and typed as Trino types them: `count(*)` → bigint, `sum` of integer or bigint
//!   → bigint, of double → double, `avg` → double, `min`/`max` keep their argument's type,
//!   arithmetic takes the wider operand type, a comparison is boolean, `CAST` gives its
//!   target; a column's own type is its table's. Values are encoded as every result of the
//!   emulator (`… UTC` timestamps, `0x…` varbinary, uint256 as a string; see
//!   [`types::DType::encode`]). Where no type can be inferred (an unusual expression), it is
//!   read from the values (bigint, double, varchar or varbinary) or `unknown` when all are
//!   NULL.
//! - `timestamp with time zone` is written without its precision in `column_types`, as
//!   Dune's results write it; `/v1/datasets` gives the declared `timestamp(3) with time
//!   zone`.
//!
//! # Not evaluated (each fails the execution with a message saying so)
//! - Types beyond the ones above: decimal, real, tinyint, smallint, json, arrays, maps,
//!   rows, time, intervals of months or years; decimal literals (`1.5`) are doubles here
//!   (Trino makes them decimal(p,s)). CAST from double to varchar (Trino's number format is
//!   not emulated).
//! - Arithmetic on uint256 and int256 (kept as digits, compared as numbers over all 256
//!   bits, summed exactly) goes through SQLite's numbers: exact within 64 bits, a double past
//!   them; a whole-number literal past 64 bits fails (write `CAST('…' AS uint256)`).
//! - `UNNEST`, `LATERAL`, table functions, `VALUES`, `WITH RECURSIVE`, `WINDOW`, `ROLLUP`,
//!   `CUBE`, `GROUPING SETS`, parenthesized joins, column alias lists on relations,
//!   `query_<id>` views (except `SELECT * FROM query_<id> [LIMIT n]`, answered elsewhere),
//!   and any function not listed.
//! - A statement running longer than [`engine::TIME_LIMIT`] or returning more than
//!   [`engine::MAX_ROWS`] rows.
//!
//! Differences that cannot be detected and are not emulated: division by zero gives NULL
//! (Trino fails); bigint overflow in arithmetic becomes a double in SQLite (in `sum` it
//! fails, as in Trino); comparing two expressions of different types (other than a literal
//! with a column, above) is allowed where Trino refuses it; `'a' || 1` concatenates;
//! timestamps keep microseconds; `SELECT *` over a `USING` join is named and typed as SQLite
//! expands it.
//!
//! Errors of SQLite are reworded as Trino's where they map: `Column 'x' cannot be resolved`,
//! `Column 'x' is ambiguous`, `mismatched input 'x'`, placed at the name in the statement.

pub mod engine;
mod expr;
pub mod functions;
mod infer;
pub mod lex;
pub mod translate;
pub mod types;

pub use engine::Engine;

#[cfg(test)]
mod tests;
