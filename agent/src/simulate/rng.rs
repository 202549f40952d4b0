//! A small deterministic random number generator for the simulator: SplitMix64
//! (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014).
//!
//! Every random draw of the simulator comes from an [`Rng`] keyed by (seed, host index,
//! stream, counter), so that any host's profile, inventory or utilisation window can be
//! regenerated on its own, in any order, without keeping state. This module owns that
//! keying; it must not be used for anything that needs unpredictability (tokens, report
//! ids of real agents): it is not a cryptographic generator.

/// What a generator is for: each purpose draws from its own stream, so adding a draw to
/// one purpose does not shift the values of another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The host's profile: class, OS, hardware, traits.
    Profile = 1,
    /// Identifiers: host id, serials, MAC addresses.
    Identity = 2,
    /// The inventory's details (software versions, volumes, services).
    Inventory = 3,
    /// One report's utilisation samples (the counter is the report's sequence number).
    Utilisation = 4,
    /// Whether the inventory changes at a report (the counter is the report's sequence number).
    Change = 5,
    /// Schedule jitter and backoff jitter.
    Jitter = 6,
    /// Report ids (the counter is the report's sequence number).
    ReportId = 7,
}

/// SplitMix64's finaliser: a bijective mix of 64 bits.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// A SplitMix64 generator.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator for (seed, host index, stream, counter). Distinct keys give
    /// independent-looking sequences; equal keys give equal sequences.
    pub fn keyed(seed: u64, index: u64, stream: Stream, counter: u64) -> Rng {
        let mut h = mix64(seed ^ GOLDEN_GAMMA);
        h = mix64(h ^ index.wrapping_mul(GOLDEN_GAMMA));
        h = mix64(h ^ (stream as u64).wrapping_mul(0xd6e8_feb8_6659_fd93));
        h = mix64(h ^ counter.wrapping_mul(0xa076_1d64_78bd_642f));
        Rng { state: h }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        mix64(self.state)
    }

    /// A uniform number in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A uniform number in [lo, hi).
    pub fn range_f64(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// A uniform integer in [lo, hi] (inclusive); `lo` when `hi < lo`.
    pub fn range_u64(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        let span = hi - lo + 1;
        // Multiply-shift: unbiased enough for simulation (bias < span / 2^64).
        lo + ((u128::from(self.next_u64()) * u128::from(span)) >> 64) as u64
    }

    /// True with probability `p` (clamped to [0, 1]).
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p.clamp(0.0, 1.0)
    }

    /// One element of a non-empty slice, uniformly; `None` for an empty one.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            return None;
        }
        let last = items.len() as u64 - 1;
        items.get(self.range_u64(0, last) as usize)
    }

    /// One element by weight (weights ≥ 0; a zero weight is never picked unless all are
    /// zero, then the first). `None` for an empty slice.
    pub fn weighted<'a, T>(&mut self, items: &'a [(f64, T)]) -> Option<&'a T> {
        let total: f64 = items.iter().map(|(w, _)| w.max(0.0)).sum();
        if total <= 0.0 {
            return items.first().map(|(_, t)| t);
        }
        let mut target = self.unit() * total;
        for (w, item) in items {
            let w = w.max(0.0);
            if target < w {
                return Some(item);
            }
            target -= w;
        }
        items.last().map(|(_, t)| t)
    }

    /// An approximately normal number (mean 0, standard deviation 1): the sum of four
    /// uniforms, rescaled (Irwin–Hall); tails are bounded at ±3.46.
    pub fn normalish(&mut self) -> f64 {
        let sum: f64 = (0..4).map(|_| self.unit()).sum();
        (sum - 2.0) * 3f64.sqrt()
    }

    /// `n` random bytes as lower-case hex (2n characters).
    pub fn hex(&mut self, n: usize) -> String {
        let mut out = String::with_capacity(n * 2);
        let mut word = 0u64;
        for i in 0..n {
            if i.is_multiple_of(8) {
                word = self.next_u64();
            }
            let byte = (word >> ((i % 8) * 8)) as u8;
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        out
    }

    /// 16 random bytes.
    pub fn bytes16(&mut self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        out[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        out
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_keys_give_equal_sequences_and_distinct_keys_differ() {
        let a: Vec<u64> = {
            let mut r = Rng::keyed(7, 42, Stream::Profile, 0);
            (0..8).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = Rng::keyed(7, 42, Stream::Profile, 0);
            (0..8).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        for other in [
            Rng::keyed(8, 42, Stream::Profile, 0),
            Rng::keyed(7, 43, Stream::Profile, 0),
            Rng::keyed(7, 42, Stream::Identity, 0),
            Rng::keyed(7, 42, Stream::Profile, 1),
        ] {
            let mut other = other;
            assert_ne!(other.next_u64(), a[0]);
        }
    }

    #[test]
    fn draws_stay_in_their_ranges_and_cover_them() {
        let mut r = Rng::keyed(1, 2, Stream::Jitter, 3);
        let mut seen = [false; 6];
        let mut below_half = 0;
        for _ in 0..10_000 {
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
            if u < 0.5 {
                below_half += 1;
            }
            let n = r.range_u64(10, 15);
            assert!((10..=15).contains(&n));
            seen[(n - 10) as usize] = true;
            let x = r.range_f64(-2.0, 3.0);
            assert!((-2.0..3.0).contains(&x));
            let z = r.normalish();
            assert!(z.abs() <= 3.47);
        }
        assert!(seen.iter().all(|s| *s));
        // Uniform: about half below 0.5 (±3 %).
        assert!((4_700..5_300).contains(&below_half), "{below_half}");
        assert_eq!(r.range_u64(5, 5), 5);
        assert_eq!(r.range_u64(5, 1), 5);
    }

    #[test]
    fn weighted_follows_the_weights() {
        let mut r = Rng::keyed(3, 0, Stream::Profile, 0);
        let items = [(1.0, 'a'), (0.0, 'z'), (3.0, 'b')];
        let mut counts = [0u32; 2];
        for _ in 0..20_000 {
            match r.weighted(&items) {
                Some('a') => counts[0] += 1,
                Some('b') => counts[1] += 1,
                other => panic!("picked {other:?}"),
            }
        }
        let share = f64::from(counts[0]) / 20_000.0;
        assert!((0.23..0.27).contains(&share), "{share}");
        let empty: [(f64, char); 0] = [];
        assert_eq!(r.weighted(&empty), None);
        assert_eq!(r.pick::<u8>(&[]), None);
    }

    #[test]
    fn hex_has_the_requested_length() {
        let mut r = Rng::keyed(0, 0, Stream::Identity, 0);
        let h = r.hex(16);
        assert_eq!(h.len(), 32);
        assert!(
            h.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(h, r.hex(16));
    }
}
