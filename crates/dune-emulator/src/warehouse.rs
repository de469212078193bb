//! The tables raw DuneSQL reads besides uploads: a small, deterministic stand-in for two of
//! Dune's spells, generated in code from one seed ([`SEED`]), no files.
//!
//! - `dex.trades`: 5,000 trades ([`TRADES`] rows) between 2024-01-01 and 2024-03-31 UTC on
//!   four chains (ethereum 40%, arbitrum 25%, base 20%, polygon 15%), sorted by `block_time`.
//!   Projects are mostly uniswap, sushiswap, curve and balancer, with a few rows of a
//!   mixed-case project (`Velodrome`), a non-ASCII one (`ströme`) and an empty one (`''`, whose
//!   `version` is NULL). Tokens are drawn from the chain's own `tokens.erc20` rows (so joins
//!   on address and chain match), the ten first ones four times out of five. `taker` comes
//!   from a pool of [`TAKERS`] addresses; `tx_hash` is unique; about 2% of
//!   `token_bought_amount_raw` and 5% of `amount_usd` are NULL. `token_bought_amount_raw`
//!   (uint256) stays below 2^63, as the SQLite engine has 64-bit integers only.
//! - `tokens.erc20`: 300 tokens ([`TOKENS`] rows), 75 a chain: well-known symbols (`WETH`,
//!   `USDC`, ..., mixed-case `stETH`, `cbETH`), a lowercase `usdc` beside `USDC`, non-ASCII
//!   (`ÆTHER`, `€URe`), an empty symbol, a NULL symbol (with NULL `decimals`), and generated
//!   `TKN<n>` symbols.
//!
//! Values are drawn with splitmix64 ([`crate::ulid::mix`]) from [`SEED`]: the same build
//! always generates the same rows, which tests read directly to compute expected answers.

use crate::ulid::mix;
use std::sync::OnceLock;

/// The seed every value is drawn from.
pub const SEED: u64 = 0x00D0_E5EE_D202_4001;
/// Rows of `dex.trades`.
pub const TRADES: usize = 5_000;
/// Rows of `tokens.erc20`.
pub const TOKENS: usize = 300;
/// Distinct `taker` addresses of `dex.trades`.
pub const TAKERS: usize = 200;
/// 2024-01-01 00:00:00 UTC, in milliseconds.
pub const START_MS: i64 = 1_704_067_200_000;
/// The span of `block_time`: 91 days (to 2024-03-31 23:59:59.999 UTC).
pub const SPAN_MS: i64 = 91 * 86_400_000;

/// The chains, with their share of trades (percent).
pub const CHAINS: [(&str, u64); 4] = [
    ("ethereum", 40),
    ("arbitrum", 25),
    ("base", 20),
    ("polygon", 15),
];

/// The projects, with their share of trades (per thousand) and their versions.
const PROJECTS: [(&str, u64, &[&str]); 9] = [
    ("uniswap", 330, &["2", "3"]),
    ("sushiswap", 150, &["1", "trident"]),
    ("curve", 150, &["1"]),
    ("balancer", 120, &["2"]),
    ("pancakeswap", 100, &["2", "3"]),
    ("trader_joe", 80, &["2.1"]),
    ("Velodrome", 40, &["2"]),
    ("ströme", 20, &["1"]),
    ("", 10, &[]),
];

/// Well-known tokens every chain has: (symbol, decimals, price in USD).
const KNOWN: [(&str, i32, f64); 20] = [
    ("WETH", 18, 2_500.0),
    ("USDC", 6, 1.0),
    ("USDT", 6, 1.0),
    ("DAI", 18, 1.0),
    ("WBTC", 8, 45_000.0),
    ("LINK", 18, 15.0),
    ("UNI", 18, 7.0),
    ("AAVE", 18, 95.0),
    ("CRV", 18, 0.55),
    ("stETH", 18, 2_490.0),
    ("BAL", 18, 4.2),
    ("SUSHI", 18, 1.3),
    ("MKR", 18, 2_000.0),
    ("LDO", 18, 2.8),
    ("cbETH", 18, 2_600.0),
    ("rETH", 18, 2_700.0),
    ("FRAX", 18, 1.0),
    ("usdc", 6, 1.0),
    ("ÆTHER", 18, 0.02),
    ("€URe", 18, 1.09),
];

/// Schema of a generated table: its columns with their DuneSQL types.
pub struct TableDef {
    /// `dex.trades` is (`dex`, `trades`).
    pub schema: &'static str,
    /// The table's name.
    pub name: &'static str,
    /// (name, DuneSQL type) in order.
    pub columns: &'static [(&'static str, &'static str)],
}

/// The schema of `dex.trades`.
pub const TRADES_DEF: TableDef = TableDef {
    schema: "dex",
    name: "trades",
    columns: &[
        ("blockchain", "varchar"),
        ("project", "varchar"),
        ("version", "varchar"),
        ("block_date", "date"),
        ("block_time", "timestamp(3) with time zone"),
        ("block_number", "bigint"),
        ("token_bought_symbol", "varchar"),
        ("token_sold_symbol", "varchar"),
        ("token_bought_amount", "double"),
        ("token_bought_amount_raw", "uint256"),
        ("amount_usd", "double"),
        ("token_bought_address", "varbinary"),
        ("token_sold_address", "varbinary"),
        ("taker", "varbinary"),
        ("tx_hash", "varbinary"),
        ("evt_index", "bigint"),
    ],
};

/// The schema of `tokens.erc20`.
pub const TOKENS_DEF: TableDef = TableDef {
    schema: "tokens",
    name: "erc20",
    columns: &[
        ("blockchain", "varchar"),
        ("contract_address", "varbinary"),
        ("symbol", "varchar"),
        ("decimals", "integer"),
    ],
};

/// One row of `tokens.erc20`.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// The chain.
    pub blockchain: &'static str,
    /// 20 bytes.
    pub contract_address: [u8; 20],
    /// NULL for one token a chain; empty for another.
    pub symbol: Option<String>,
    /// NULL where the symbol is NULL.
    pub decimals: Option<i32>,
    /// Not a column: the price trades use for `amount_usd`.
    pub price_usd: f64,
}

/// One row of `dex.trades`.
#[derive(Debug, Clone, PartialEq)]
pub struct Trade {
    /// The chain.
    pub blockchain: &'static str,
    /// The project (mostly lowercase ASCII; see the module docs).
    pub project: &'static str,
    /// NULL for the empty project.
    pub version: Option<&'static str>,
    /// Milliseconds since the epoch, UTC.
    pub block_time_ms: i64,
    /// Days since the epoch of `block_time`.
    pub block_date_days: i64,
    /// Grows with `block_time` on each chain.
    pub block_number: i64,
    /// The bought token's symbol (NULL where the token's is).
    pub token_bought_symbol: Option<String>,
    /// The sold token's symbol.
    pub token_sold_symbol: Option<String>,
    /// The amount bought, in tokens.
    pub token_bought_amount: f64,
    /// The amount in the token's smallest unit (below 2^63), NULL in about 2% of rows.
    pub token_bought_amount_raw: Option<u64>,
    /// NULL in about 5% of rows.
    pub amount_usd: Option<f64>,
    /// The bought token's contract.
    pub token_bought_address: [u8; 20],
    /// The sold token's contract.
    pub token_sold_address: [u8; 20],
    /// One of [`takers`].
    pub taker: [u8; 20],
    /// Unique.
    pub tx_hash: [u8; 32],
    /// 0 to 299.
    pub evt_index: i64,
}

/// A splitmix64 stream.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 = mix(self.0);
        self.0
    }

    /// A value in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A value in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for chunk in out.chunks_mut(8) {
            let v = self.next().to_be_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        out
    }
}

/// The takers' addresses.
pub fn takers() -> &'static [[u8; 20]] {
    static CELL: OnceLock<Vec<[u8; 20]>> = OnceLock::new();
    CELL.get_or_init(|| {
        let mut d = Draw(SEED ^ 0x7A4E);
        (0..TAKERS).map(|_| d.bytes()).collect()
    })
}

/// The rows of `tokens.erc20`, by chain then symbol list order.
pub fn tokens() -> &'static [Token] {
    static CELL: OnceLock<Vec<Token>> = OnceLock::new();
    CELL.get_or_init(|| {
        let mut d = Draw(SEED ^ 0x70CE);
        let mut out = Vec::with_capacity(TOKENS);
        for (chain, _) in CHAINS {
            for i in 0..TOKENS / CHAINS.len() {
                let (symbol, decimals, price) = match (KNOWN.get(i), i) {
                    (Some(&(s, dec, p)), _) => (Some(s.to_string()), Some(dec), p),
                    (None, 20) => (Some(String::new()), Some(18), 0.5),
                    (None, 21) => (None, None, 0.25),
                    _ => {
                        let dec = [18, 6, 9, 0][d.below(4) as usize];
                        (Some(format!("TKN{i}")), Some(dec), 0.1 + d.unit() * 50.0)
                    }
                };
                out.push(Token {
                    blockchain: chain,
                    contract_address: d.bytes(),
                    symbol,
                    decimals,
                    price_usd: price,
                });
            }
        }
        out
    })
}

/// Picks an item by weight.
fn weighted<T: Copy>(d: &mut Draw, items: &[(T, u64)]) -> T {
    let total: u64 = items.iter().map(|i| i.1).sum();
    let mut at = d.below(total);
    for &(item, w) in items {
        if at < w {
            return item;
        }
        at -= w;
    }
    items[items.len() - 1].0
}

/// The block number of a time on a chain: each chain's own block time from a block it had on
/// 2024-01-01.
fn block_number(chain: &str, ms: i64) -> i64 {
    let since = ms - START_MS;
    match chain {
        "ethereum" => 18_908_895 + since / 12_000,
        "arbitrum" => 166_000_000 + since / 250,
        "base" => 8_800_000 + since / 2_000,
        _ => 51_700_000 + since / 2_100,
    }
}

/// A token of `chain` for a trade: one of the ten first four times out of five.
fn pick_token(d: &mut Draw, chain_tokens: &[Token], not: Option<usize>) -> usize {
    loop {
        let i = if d.below(5) < 4 {
            d.below(10)
        } else {
            d.below(chain_tokens.len() as u64)
        } as usize;
        if Some(i) != not {
            return i;
        }
    }
}

/// One trade of row `n` (its time is drawn here and sorted afterwards).
fn trade(d: &mut Draw, seen: &mut std::collections::HashSet<[u8; 32]>) -> Trade {
    let chain = weighted(d, &CHAINS);
    let per_chain = TOKENS / CHAINS.len();
    let first = CHAINS.iter().position(|c| c.0 == chain).unwrap_or(0) * per_chain;
    let chain_tokens = &tokens()[first..first + per_chain];
    let projects: Vec<(usize, u64)> = PROJECTS.iter().map(|p| p.1).enumerate().collect();
    let (project, _, versions) = PROJECTS[weighted(d, &projects)];
    let version = (!versions.is_empty()).then(|| versions[d.below(versions.len() as u64) as usize]);
    let mut ms = START_MS + d.below(SPAN_MS as u64) as i64;
    if chain != "arbitrum" {
        ms -= ms % 1000; // whole seconds, as most chains' blocks have
    }
    let bought = pick_token(d, chain_tokens, None);
    let sold = pick_token(d, chain_tokens, Some(bought));
    let (tb, ts) = (&chain_tokens[bought], &chain_tokens[sold]);
    let amount = 10f64.powf(d.unit() * 6.0 - 2.0);
    let raw =
        (d.below(50) != 0).then(|| (amount * 10f64.powi(tb.decimals.unwrap_or(18).min(9))) as u64);
    let usd = (d.below(20) != 0).then_some(amount * tb.price_usd);
    let taker =
        takers()[(d.below(TAKERS as u64) * d.below(TAKERS as u64) / TAKERS as u64) as usize];
    let mut tx_hash: [u8; 32] = d.bytes();
    while !seen.insert(tx_hash) {
        tx_hash = d.bytes();
    }
    Trade {
        blockchain: chain,
        project,
        version,
        block_time_ms: ms,
        block_date_days: ms.div_euclid(86_400_000),
        block_number: block_number(chain, ms),
        token_bought_symbol: tb.symbol.clone(),
        token_sold_symbol: ts.symbol.clone(),
        token_bought_amount: amount,
        token_bought_amount_raw: raw,
        amount_usd: usd,
        token_bought_address: tb.contract_address,
        token_sold_address: ts.contract_address,
        taker,
        tx_hash,
        evt_index: d.below(300) as i64,
    }
}

/// The rows of `dex.trades`, sorted by `block_time` (then `tx_hash`).
pub fn trades() -> &'static [Trade] {
    static CELL: OnceLock<Vec<Trade>> = OnceLock::new();
    CELL.get_or_init(|| {
        let mut d = Draw(SEED);
        let mut seen = std::collections::HashSet::new();
        let mut out: Vec<Trade> = (0..TRADES).map(|_| trade(&mut d, &mut seen)).collect();
        out.sort_by_key(|a| (a.block_time_ms, a.tx_hash));
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn the_catalog_has_its_shape() {
        let (t, k) = (trades(), tokens());
        assert_eq!((t.len(), k.len()), (TRADES, TOKENS));
        let hashes: HashSet<_> = t.iter().map(|r| r.tx_hash).collect();
        assert_eq!(hashes.len(), TRADES);
        let takers: HashSet<_> = t.iter().map(|r| r.taker).collect();
        assert!(
            takers.len() > 150 && takers.len() <= TAKERS,
            "{}",
            takers.len()
        );
        assert!(t.iter().all(|r| {
            r.block_time_ms >= START_MS
                && r.block_time_ms < START_MS + SPAN_MS
                && r.token_bought_amount_raw.is_none_or(|v| v < 1 << 63)
        }));
        let nulls = t.iter().filter(|r| r.amount_usd.is_none()).count();
        assert!((100..400).contains(&nulls), "{nulls}");
        assert!(t.iter().any(|r| r.project == "Velodrome"));
        assert!(t.iter().any(|r| r.project == "ströme"));
        assert!(
            t.iter()
                .any(|r| r.project.is_empty() && r.version.is_none())
        );
        assert!(t.iter().any(|r| r.token_bought_symbol.is_none()));
        for r in t {
            let found = k
                .iter()
                .find(|x| x.contract_address == r.token_bought_address);
            let found = found.expect("every bought token is listed");
            assert_eq!(
                (found.blockchain, &found.symbol),
                (r.blockchain, &r.token_bought_symbol)
            );
        }
        // the same seed, the same rows
        let mut d = Draw(SEED);
        let first = trade(&mut d, &mut HashSet::new());
        assert!(t.contains(&first));
    }
}
