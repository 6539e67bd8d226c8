//! Safe-prime generation with a sieve.
//!
//! A random odd `p′` of `bits − 1` bits (top two bits set, so `N = p·q` has exactly `2·bits`
//! bits) starts a window of candidates `p′ + 2j`. For every prime `s < 2^22` the window is
//! sieved twice: positions with `p′ ≡ 0 (mod s)` and with `2p′ + 1 ≡ 0 (mod s)`, i.e.
//! `p′ ≡ (s − 1)/2 (mod s)`. Survivors get a base-2 Fermat test on `p = 2p′ + 1` (cheap, rejects
//! almost all), then Miller–Rabin on `p′` and on `p`. `p′` odd gives `p ≡ 3 (mod 4)`.

use std::sync::OnceLock;

use rug::integer::IsPrime;
use rug::Integer;

const SIEVE_LIMIT: u32 = 1 << 22;
/// Candidates per window (each is `p′ + 2j`).
const WINDOW: usize = 1 << 16;
const MR_ROUNDS: u32 = 30;

fn small_primes() -> &'static [u32] {
    static PRIMES: OnceLock<Vec<u32>> = OnceLock::new();
    PRIMES.get_or_init(|| {
        let n = SIEVE_LIMIT as usize;
        let mut composite = vec![false; n];
        let mut out = Vec::new();
        for i in 2..n {
            if !composite.get(i).copied().unwrap_or(true) {
                out.push(i as u32);
                let mut j = i * i;
                while j < n {
                    if let Some(c) = composite.get_mut(j) {
                        *c = true;
                    }
                    j += i;
                }
            }
        }
        out
    })
}

/// A safe prime `p = 2p′ + 1` with exactly `bits` bits and `p ≡ 3 (mod 4)`. `bits ≥ 64`.
pub fn generate_safe_prime(rng: &mut impl rand_core::CryptoRngCore, bits: u32) -> Integer {
    let bits = bits.max(64);
    let primes = small_primes();
    loop {
        // p′: bits − 1 bits, top two set, odd.
        let mut start = crate::random::random_below(rng, &(Integer::from(1) << (bits - 1)));
        start.set_bit(bits - 2, true);
        start.set_bit(bits - 3, true);
        start.set_bit(0, true);
        let mut alive = vec![true; WINDOW];
        for &s in primes.iter().skip(1) {
            // s odd. Candidate j is p′ + 2j.
            let r = start.mod_u(s);
            let inv2 = s.div_ceil(2); // 2⁻¹ mod s
                                      // p′ + 2j ≡ 0  ⇔  j ≡ −r·2⁻¹ (mod s)
            let j0 =
                ((u64::from(s - r % s) % u64::from(s)) * u64::from(inv2) % u64::from(s)) as usize;
            // p′ + 2j ≡ (s−1)/2  ⇔  j ≡ ((s−1)/2 − r)·2⁻¹ (mod s)
            let target = (u64::from((s - 1) / 2) + u64::from(s) - u64::from(r)) % u64::from(s);
            let j1 = (target * u64::from(inv2) % u64::from(s)) as usize;
            for j in [j0, j1] {
                let mut k = j;
                while k < WINDOW {
                    if let Some(a) = alive.get_mut(k) {
                        *a = false;
                    }
                    k += s as usize;
                }
            }
        }
        for (j, ok) in alive.iter().enumerate() {
            if !ok {
                continue;
            }
            let q = Integer::from(&start + 2 * j as u64);
            if q.significant_bits() != bits - 1 {
                break;
            }
            let p = Integer::from(&q * 2u32) + 1u32;
            // Fermat base 2 on p first: one exponentiation rejects nearly every survivor.
            let pm1 = Integer::from(&p - 1u32);
            match Integer::from(2).pow_mod(&pm1, &p) {
                Ok(v) if v == 1 => {}
                _ => continue,
            }
            if q.is_probably_prime(MR_ROUNDS) != IsPrime::No
                && p.is_probably_prime(MR_ROUNDS) != IsPrime::No
            {
                return p;
            }
        }
    }
}

/// Whether `p` is (probably) a safe prime.
pub fn is_safe_prime(p: &Integer) -> bool {
    if *p < 5 || p.is_even() {
        return false;
    }
    let q: Integer = Integer::from(p - 1u32) >> 1;
    p.is_probably_prime(MR_ROUNDS) != IsPrime::No && q.is_probably_prime(MR_ROUNDS) != IsPrime::No
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn generates_safe_blum_primes_of_exact_size() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        for bits in [64u32, 256, 512] {
            let p = generate_safe_prime(&mut rng, bits);
            assert_eq!(p.significant_bits(), bits);
            assert!(is_safe_prime(&p));
            assert_eq!(p.mod_u(4), 3);
        }
    }

    #[test]
    fn is_safe_prime_rejects() {
        assert!(!is_safe_prime(&Integer::from(13))); // 6 not prime
        assert!(is_safe_prime(&Integer::from(23)));
        assert!(!is_safe_prime(&Integer::from(25)));
    }
}
