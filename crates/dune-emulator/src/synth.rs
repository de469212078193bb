//! Deterministic synthetic values: the same (query, column, row) always gives the same value,
//! so a result of any size can be served page by page without storing it.

use crate::time::{dune_date, dune_timestamp};
use crate::ulid::mix;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Generator {
    /// Row number plus a base: 18,000,000, 18,000,001, ...
    Sequence,
    /// A timestamp that advances about 12 seconds a row from 2024-01-01.
    Timestamp,
    /// A date that advances one day every 1,000 rows.
    Date,
    /// One of a few project names.
    Project,
    /// A positive double with a fraction.
    Amount,
    /// A 20-byte address as 0x hex.
    Address,
    /// A 32-byte hash as 0x hex.
    Hash,
    /// A uint256 as a decimal string, often above 2^64.
    Uint256,
    /// A signed int256 as a decimal string.
    Int256,
    /// true or false.
    Boolean,
    /// NULL in nine rows out of ten, a short text otherwise.
    MostlyNull,
    /// A small integer (0..1000).
    Small,
}

const PROJECTS: [&str; 8] = [
    "uniswap",
    "curve",
    "balancer",
    "sushiswap",
    "1inch",
    "pancakeswap",
    "dodo",
    "0x",
];
const START_MS: i64 = 1_704_067_200_000; // 2024-01-01 00:00:00 UTC

fn hex(seed: u64, bytes: usize) -> String {
    let mut s = String::with_capacity(2 + bytes * 2);
    s.push_str("0x");
    let mut x = seed;
    while s.len() < 2 + bytes * 2 {
        x = mix(x);
        s.push_str(&format!("{x:016x}"));
    }
    s.truncate(2 + bytes * 2);
    s
}

/// The value of one synthetic cell, in Dune's JSON encoding.
pub fn cell(generator: Generator, seed: u64, col: usize, row: u64) -> Value {
    let h = mix(seed
        .wrapping_mul(31)
        .wrapping_add(col as u64)
        .wrapping_mul(0x1000_0000_01B3)
        ^ row);
    match generator {
        Generator::Sequence => Value::from(18_000_000 + row),
        Generator::Timestamp => Value::from(dune_timestamp(
            START_MS + row as i64 * 12_000 + (h % 1000) as i64,
        )),
        Generator::Date => Value::from(dune_date(START_MS + (row / 1000) as i64 * 86_400_000)),
        Generator::Project => Value::from(PROJECTS[(h % PROJECTS.len() as u64) as usize]),
        Generator::Amount => Value::from((h % 100_000_000) as f64 / 1000.0 + 0.25),
        Generator::Address => Value::from(hex(h, 20)),
        Generator::Hash => Value::from(hex(h, 32)),
        Generator::Uint256 => {
            let hi = h % 1_000_000_000_000;
            let lo = mix(h) % 1_000_000_000_000_000;
            if hi == 0 {
                Value::from(lo.to_string())
            } else {
                Value::from(format!("{hi}{lo:015}"))
            }
        }
        Generator::Int256 => {
            let v = (h % 1_000_000_000_000) as i64 - 500_000_000_000;
            Value::from(format!("{v}{:012}", mix(h) % 1_000_000_000_000))
        }
        Generator::Boolean => Value::from(h.is_multiple_of(2)),
        Generator::MostlyNull => {
            if row % 10 == 7 {
                Value::from(format!("note {row}"))
            } else {
                Value::Null
            }
        }
        Generator::Small => Value::from(h % 1000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_deterministic_and_dune_encoded() {
        assert_eq!(
            cell(Generator::Hash, 1, 2, 3),
            cell(Generator::Hash, 1, 2, 3)
        );
        assert_ne!(
            cell(Generator::Hash, 1, 2, 3),
            cell(Generator::Hash, 1, 2, 4)
        );
        let hash = cell(Generator::Hash, 1, 2, 3);
        assert_eq!(hash.as_str().unwrap().len(), 66);
        let ts = cell(Generator::Timestamp, 1, 0, 0);
        assert!(
            ts.as_str().unwrap().starts_with("2024-01-01 00:00:00."),
            "{ts}"
        );
        assert!(ts.as_str().unwrap().ends_with(" UTC"));
        let big = (0..50)
            .map(|r| cell(Generator::Uint256, 9, 1, r))
            .any(|v| v.as_str().unwrap().len() > 20);
        assert!(big, "some uint256 values exceed 2^64");
    }
}
