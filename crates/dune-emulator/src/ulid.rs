//! Execution ids shaped like Dune's: 26-character ULIDs (Crockford base32) starting with `01`.

use std::sync::atomic::{AtomicU64, Ordering};

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static COUNTER: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);

/// splitmix64: a small, good-enough mixer for ids and synthetic data.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A ULID for `ms` with 80 bits of randomness derived from `seed`.
pub fn ulid_with(ms: u64, seed: u64) -> String {
    let hi = mix(seed);
    let lo = mix(seed ^ 0xA5A5_A5A5_5A5A_5A5A);
    let value: u128 =
        ((ms as u128 & ((1 << 48) - 1)) << 80) | ((hi as u128) << 16) | (lo as u128 & 0xFFFF);
    let mut out = [0u8; 26];
    for (i, slot) in out.iter_mut().enumerate() {
        let shift = 125 - 5 * i as u32;
        *slot = ALPHABET[((value >> shift) & 31) as usize];
    }
    String::from_utf8(out.to_vec()).expect("ascii")
}

/// A fresh ULID for the current time.
pub fn new_ulid(ms: u64) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    ulid_with(ms, n ^ ms.rotate_left(17) ^ std::process::id() as u64)
}

/// Whether `id` has the shape of an execution id (26 Crockford base32 characters).
pub fn is_well_formed(id: &str) -> bool {
    id.len() == 26
        && id
            .bytes()
            .all(|b| ALPHABET.contains(&b.to_ascii_uppercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_dune_ids() {
        let id = new_ulid(1_709_671_859_000);
        assert_eq!(id.len(), 26);
        assert!(id.starts_with("01"), "{id}");
        assert!(is_well_formed(&id));
        assert_ne!(id, new_ulid(1_709_671_859_000));
        assert!(!is_well_formed("Wonky Job ID"));
    }
}
