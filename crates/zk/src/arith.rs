//! Big-integer helpers shared by Π^prm and Π^log*.

use rug::integer::Order;
use rug::Integer;
use tessera_core::Transcript;

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
