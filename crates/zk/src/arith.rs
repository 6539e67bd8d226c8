//! Big-integer helpers shared by the Paillier / ring-Pedersen proofs written here
//! (Π^prm, Π^enc, Π^aff-g, Π^log*).

use k256::elliptic_curve::ops::Reduce;
use k256::{Scalar, U256};
use rug::integer::Order;
use rug::Integer;
use tessera_core::Transcript;
use tessera_paillier::SecretKey;

use crate::{RingPedersen, SecurityLevel, ZkError};

/// Range-proof challenges `e` are uniform in `[−2^128, 2^128]`: cggmp21's `Q = 2^128`, the
/// challenge size its `SecurityLevel128` (ε = 230, ℓ′ = 848) is built for. 128 bits of special
/// soundness per proof, and `ε = 230 ≥ 2 + s + log Q` leaves `s ≈ 100` bits of statistical slack.
pub const CHALLENGE_BITS: u32 = 128;

/// Statistical slack we require between a mask and what it hides.
pub(crate) const MIN_SLACK_BITS: u32 = 100;

/// `x mod m` in `[0, m)`.
pub(crate) fn modp(x: &Integer, m: &Integer) -> Integer {
    let mut r = Integer::from(x % m);
    if r < 0 {
        r += m;
    }
    r
}

/// `0 < x < n` and `gcd(x, n) = 1`.
pub(crate) fn in_mult_group(x: &Integer, n: &Integer) -> bool {
    *x > 0 && x < n && Integer::from(x.gcd_ref(n)) == 1
}

/// `base^e mod m` for a public exponent of any sign (variable time).
pub(crate) fn pow_public(base: &Integer, e: &Integer, m: &Integer) -> Option<Integer> {
    base.pow_mod_ref(e, m).map(Integer::from)
}

/// `base^e mod m` for a secret exponent of any sign, constant time in `e` (GMP `mpz_powm_sec`;
/// `m` must be odd).
pub(crate) fn pow_secret(base: &Integer, e: &Integer, m: &Integer) -> Option<Integer> {
    if m.is_even() || *m <= 1 {
        return None;
    }
    if *e == 0 {
        return Some(Integer::from(1));
    }
    let b = if *e < 0 {
        Integer::from(base.invert_ref(m)?)
    } else {
        modp(base, m)
    };
    let abs = Integer::from(e.abs_ref());
    Some(Integer::from(b.secure_pow_mod_ref(&abs, m)))
}

pub(crate) fn bytes(x: &Integer) -> Vec<u8> {
    let mut v = vec![u8::from(*x < 0)];
    v.extend(x.to_digits::<u8>(Order::Msf));
    v
}

pub(crate) fn append_int(t: &mut Transcript, label: &[u8], x: &Integer) {
    t.append(label, &bytes(x));
}

/// Uniform in `[0, n)` from the rng.
pub(crate) fn random_below(rng: &mut impl rand_core::CryptoRngCore, n: &Integer) -> Integer {
    let bits = n.significant_bits();
    let len = (bits as usize).div_ceil(8);
    loop {
        let mut buf = vec![0u8; len];
        rng.fill_bytes(&mut buf);
        let mut x = Integer::from_digits(&buf, Order::Msf);
        x.keep_bits_mut(bits);
        if x < *n {
            return x;
        }
    }
}

/// Uniform in `[−bound, bound]`.
pub(crate) fn random_pm(rng: &mut impl rand_core::CryptoRngCore, bound: &Integer) -> Integer {
    let width = Integer::from(bound * 2u32) + 1u32;
    random_below(rng, &width) - bound
}

/// Uniform in `Z*_n`.
pub(crate) fn random_unit(rng: &mut impl rand_core::CryptoRngCore, n: &Integer) -> Integer {
    loop {
        let x = random_below(rng, n);
        if in_mult_group(&x, n) {
            return x;
        }
    }
}

/// The challenge `e ∈ [−2^128, 2^128]`, uniform up to 2^-380: 512 bits from the transcript reduced
/// modulo `2^129 + 1`, then centred (wide reduction, never a plain `mod` of a short hash).
pub(crate) fn challenge_pm(t: &Transcript) -> Integer {
    let wide = Integer::from_digits(&t.challenge_bytes(b"e", 64), Order::Msf);
    let width = (Integer::from(1) << (CHALLENGE_BITS + 1)) + 1u32;
    modp(&wide, &width) - (Integer::from(1) << CHALLENGE_BITS)
}

/// `x mod q` as a secp256k1 scalar (for the group parts of Π^aff-g and Π^log*).
pub(crate) fn int_to_scalar(x: &Integer) -> Scalar {
    let minus_one = -Scalar::ONE;
    let q = Integer::from_digits(&minus_one.to_bytes()[..], Order::Msf) + 1u32;
    let r = modp(x, &q);
    let digits = r.to_digits::<u8>(Order::Msf);
    let mut b = [0u8; 32];
    let off = 32usize.saturating_sub(digits.len());
    if let Some(dst) = b.get_mut(off..) {
        dst.copy_from_slice(digits.get(digits.len().saturating_sub(32)..).unwrap_or(&[]));
    }
    <Scalar as Reduce<U256>>::reduce(U256::from_be_slice(&b))
}

/// `|x| ≤ 2^bits`.
pub(crate) fn abs_le_pow2(x: &Integer, bits: u32) -> bool {
    x.cmp_abs(&(Integer::from(1u32) << bits)).is_le()
}

/// `Enc_N(m; r) = (1 + N)^m · r^N mod N²` under someone else's key (`r^N` with the public
/// exponent `N`; the base may be secret, the exponent is not).
pub(crate) fn enc_public(n: &Integer, nn: &Integer, m: &Integer, r: &Integer) -> Option<Integer> {
    let gm = modp(&(modp(m, n) * n + 1u32), nn);
    let rn = pow_public(r, n, nn)?;
    Some(modp(&(gm * rn), nn))
}

/// `s^a · t^b mod N̂` for secret exponents (constant time in `a` and `b`).
pub(crate) fn ring_secret(aux: &RingPedersen, a: &Integer, b: &Integer) -> Option<Integer> {
    let x = pow_secret(&aux.s, a, &aux.n)?;
    let y = pow_secret(&aux.t, b, &aux.n)?;
    Some(modp(&(x * y), &aux.n))
}

/// The verifier's own key, when it is the modulus `n` in question (CRT fast path).
pub(crate) fn own_for<'k>(own: Option<&'k SecretKey>, n: &Integer) -> Option<&'k SecretKey> {
    own.filter(|k| k.public().n() == n)
}

/// `base^e mod N̂` for a public exponent: by CRT when the verifier owns `N̂`.
pub(crate) fn pow_n(
    own: Option<&SecretKey>,
    base: &Integer,
    e: &Integer,
    n: &Integer,
) -> Option<Integer> {
    match own_for(own, n) {
        Some(k) => k.pow_mod_n(base, e).ok(),
        None => pow_public(base, e, n),
    }
}

/// `base^e mod N²` for a public exponent: by CRT when the verifier owns `N`.
pub(crate) fn pow_nn(
    own: Option<&SecretKey>,
    base: &Integer,
    e: &Integer,
    n: &Integer,
    nn: &Integer,
) -> Option<Integer> {
    match own_for(own, n) {
        Some(k) => k.pow_mod_nn(base, e).ok(),
        None => pow_public(base, e, nn),
    }
}

/// `s^a · t^b mod N̂` for public exponents (verifier side).
pub(crate) fn ring_public(
    own: Option<&SecretKey>,
    aux: &RingPedersen,
    a: &Integer,
    b: &Integer,
) -> Option<Integer> {
    let x = pow_n(own, &aux.s, a, &aux.n)?;
    let y = pow_n(own, &aux.t, b, &aux.n)?;
    Some(modp(&(x * y), &aux.n))
}

/// A modulus within the level: odd, bit length in `min_modulus_bits..=max_modulus_bits`.
pub(crate) fn modulus_ok(n: &Integer, level: &SecurityLevel) -> bool {
    let bits = n.significant_bits();
    *n > 0u32 && !n.is_even() && bits >= level.min_modulus_bits && bits <= level.max_modulus_bits
}

/// The level suits range proofs with [`CHALLENGE_BITS`]-bit challenges: `ε` hides `e·x` with
/// [`MIN_SLACK_BITS`] to spare, and `±2^{ℓ+ε}` stays far below `N/2`.
pub(crate) fn check_range_level(proof: &'static str, level: &SecurityLevel) -> Result<(), ZkError> {
    if level.epsilon < CHALLENGE_BITS.saturating_add(MIN_SLACK_BITS) {
        return Err(ZkError::Statement {
            proof,
            what: "security level: ε < 228 leaves no statistical slack over 128-bit challenges",
        });
    }
    if level.ell.saturating_add(level.epsilon).saturating_add(2) >= level.min_modulus_bits {
        return Err(ZkError::Statement {
            proof,
            what: "security level: ℓ + ε does not fit below the modulus size",
        });
    }
    Ok(())
}
