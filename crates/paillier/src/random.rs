//! Uniform sampling of big integers from a caller-supplied CSPRNG (so seeded runs replay).

use rug::integer::Order;
use rug::Integer;

/// Uniform in `[0, 2^bits)`.
fn random_bits(rng: &mut impl rand_core::CryptoRngCore, bits: u32) -> Integer {
    let bytes = (bits as usize).div_ceil(8);
    let mut buf = vec![0u8; bytes];
    rng.fill_bytes(&mut buf);
    let mut x = Integer::from_digits(&buf, Order::Msf);
    x.keep_bits_mut(bits);
    x
}

/// Uniform in `[0, n)` by rejection sampling (`n > 0`; returns 0 otherwise).
pub fn random_below(rng: &mut impl rand_core::CryptoRngCore, n: &Integer) -> Integer {
    if *n <= 0 {
        return Integer::new();
    }
    let bits = n.significant_bits();
    loop {
        let x = random_bits(rng, bits);
        if x < *n {
            return x;
        }
    }
}

/// Uniform in `[-2^bits, 2^bits]`.
pub fn random_signed_bits(rng: &mut impl rand_core::CryptoRngCore, bits: u32) -> Integer {
    let bound = (Integer::from(1) << bits) * 2u32 + 1u32;
    random_below(rng, &bound) - (Integer::from(1) << bits)
}

/// Uniform in `Z*_n` (`n > 1`).
pub fn sample_in_mult_group(rng: &mut impl rand_core::CryptoRngCore, n: &Integer) -> Integer {
    loop {
        let x = random_below(rng, n);
        if x > 0 && Integer::from(x.gcd_ref(n)) == 1 {
            return x;
        }
    }
}
