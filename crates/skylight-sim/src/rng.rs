//! Deterministic randomness: every generated value is a pure function of the seed and a path of
//! numbers, so records can be regenerated on demand instead of being held in memory. The mixing
//! function is our own (SplitMix64), so the output never changes with a dependency upgrade.

/// SplitMix64's finaliser: a bijective, well-mixed 64-bit hash.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hashes a path of numbers into one well-mixed number.
pub fn hash(parts: &[u64]) -> u64 {
    let mut h = 0x5EED_0F5C_711C_u64;
    for p in parts {
        h = mix64(h ^ mix64(*p));
    }
    h
}

/// Hashes a string into a number (FNV-1a), for use as a path element.
pub fn hash_str(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A small deterministic generator seeded from a hash path.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator for the given path of numbers.
    pub fn new(parts: &[u64]) -> Rng {
        Rng { state: hash(parts) }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.state)
    }

    /// A uniform number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A uniform number in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// A uniform float in `[0, 1)`.
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// One element of a non-empty slice (the first when empty is impossible by construction).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// A GUID string in Microsoft's lowercase 8-4-4-4-12 form.
    pub fn guid(&mut self) -> String {
        guid(self.next_u64(), self.next_u64())
    }

    /// `n` uppercase hex digits.
    pub fn hex_upper(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n);
        while s.len() < n {
            s.push_str(&format!("{:016X}", self.next_u64()));
        }
        s.truncate(n);
        s
    }

    /// A Poisson-distributed count with mean `lambda` (normal approximation above 50).
    pub fn poisson(&mut self, lambda: f64) -> u64 {
        if lambda <= 0.0 {
            return 0;
        }
        if lambda > 50.0 {
            // Box–Muller: good enough for volumes, and constant time.
            let u1 = self.f64().max(1e-12);
            let u2 = self.f64();
            let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            return (lambda + z * lambda.sqrt()).round().max(0.0) as u64;
        }
        let limit = (-lambda).exp();
        let mut k = 0;
        let mut p = self.f64();
        while p > limit && k < 1000 {
            k += 1;
            p *= self.f64();
        }
        k
    }
}

/// Formats 128 bits as a lowercase GUID.
pub fn guid(a: u64, b: u64) -> String {
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// True when `s` has the 8-4-4-4-12 hexadecimal GUID shape (any case).
pub fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_path_same_numbers_and_different_paths_differ() {
        assert_eq!(
            Rng::new(&[1, 2, 3]).next_u64(),
            Rng::new(&[1, 2, 3]).next_u64()
        );
        assert_ne!(
            Rng::new(&[1, 2, 3]).next_u64(),
            Rng::new(&[1, 2, 4]).next_u64()
        );
        assert_ne!(hash(&[1, 2]), hash(&[2, 1]));
    }

    #[test]
    fn guids_have_the_microsoft_shape() {
        let g = Rng::new(&[7]).guid();
        assert!(is_guid(&g), "{g}");
        assert!(!is_guid("not-a-guid"));
        assert!(!is_guid("0000000-0000-0000-0000-000000000000"));
    }

    #[test]
    fn below_stays_in_range_and_poisson_has_the_right_mean() {
        let mut r = Rng::new(&[9]);
        assert!((0..1000).all(|_| r.below(7) < 7));
        let n = 20_000;
        let small: u64 = (0..n).map(|_| r.poisson(3.0)).sum();
        let mean = small as f64 / n as f64;
        assert!((mean - 3.0).abs() < 0.1, "mean {mean}");
        let big: u64 = (0..n).map(|_| r.poisson(400.0)).sum();
        let mean = big as f64 / n as f64;
        assert!((mean - 400.0).abs() < 2.0, "mean {mean}");
    }
}
