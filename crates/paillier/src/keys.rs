//! Paillier keys. `g = 1 + N`, so `Enc(m; ρ) = (1 + m·N)·ρ^N mod N²`.

use rug::integer::IsPrime;
use rug::Integer;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::PaillierError;

/// A Paillier public key `N` (and the cached `N²`).
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    n: Integer,
    nn: Integer,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({} bits)", self.n.significant_bits())
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.n.serialize(s)
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::from_n(Integer::deserialize(d)?))
    }
}

/// `x mod m` in `[0, m)` for `m > 0`.
pub(crate) fn modp(x: &Integer, m: &Integer) -> Integer {
    let mut r = Integer::from(x % m);
    if r < 0 {
        r += m;
    }
    r
}

/// `base^e mod m` for `e > 0`, odd `m > 0`: GMP's `mpz_powm_sec` (which panics otherwise).
fn secure_pow(base: &Integer, e: &Integer, m: &Integer) -> Result<Integer, PaillierError> {
    if *e <= 0 || m.is_even() || *m <= 1 {
        return Err(PaillierError::Arithmetic("secure_pow_mod domain"));
    }
    Ok(Integer::from(modp(base, m).secure_pow_mod_ref(e, m)))
}

fn in_group(x: &Integer, n: &Integer) -> bool {
    *x > 0 && x < n && Integer::from(x.gcd_ref(n)) == 1
}

impl PublicKey {
    /// Wraps `n` without validation (see [`PublicKey::validate`]).
    pub fn from_n(n: Integer) -> Self {
        let nn = Integer::from(n.square_ref());
        Self { n, nn }
    }

    /// Odd, bit length within `min_bits..=max_bits`, not a perfect square.
    pub fn validate(&self, min_bits: u32, max_bits: u32) -> Result<(), PaillierError> {
        let bits = self.n.significant_bits();
        if bits < min_bits || bits > max_bits {
            return Err(PaillierError::BadModulus(
                "bit length outside the security level",
            ));
        }
        if self.n.is_even() {
            return Err(PaillierError::BadModulus("even"));
        }
        if self.n.is_perfect_square() {
            return Err(PaillierError::BadModulus("perfect square"));
        }
        Ok(())
    }

    pub fn n(&self) -> &Integer {
        &self.n
    }

    pub fn nn(&self) -> &Integer {
        &self.nn
    }

    /// `0 < c < N²` and `gcd(c, N) = 1`.
    pub fn is_ciphertext(&self, c: &Integer) -> bool {
        *c > 0 && *c < self.nn && Integer::from(c.gcd_ref(&self.n)) == 1
    }

    /// `(1 + m·N)·ρ^N mod N²` for a signed `m` (taken mod N) and `ρ ∈ Z*_N`. The exponent `N`
    /// is public; see the crate docs for the constant-time stance.
    pub fn encrypt_with(&self, m: &Integer, nonce: &Integer) -> Result<Integer, PaillierError> {
        if !in_group(nonce, &self.n) {
            return Err(PaillierError::NotInGroup("nonce"));
        }
        let rn = nonce
            .pow_mod_ref(&self.n, &self.nn)
            .map(Integer::from)
            .ok_or(PaillierError::Arithmetic("ρ^N"))?;
        Ok(self.combine(m, &rn))
    }

    /// `(1 + m·N)·rn mod N²`.
    fn combine(&self, m: &Integer, rn: &Integer) -> Integer {
        let m = modp(m, &self.n);
        let gm = modp(&(m * &self.n + 1u32), &self.nn);
        modp(&(gm * rn), &self.nn)
    }

    /// Encrypts with a fresh nonce; returns `(ciphertext, nonce)`.
    pub fn encrypt(
        &self,
        rng: &mut impl rand_core::CryptoRngCore,
        m: &Integer,
    ) -> Result<(Integer, Integer), PaillierError> {
        let nonce = crate::sample_in_mult_group(rng, &self.n);
        Ok((self.encrypt_with(m, &nonce)?, nonce))
    }

    /// `c1·c2 mod N²`: encrypts the sum of the plaintexts.
    pub fn add(&self, c1: &Integer, c2: &Integer) -> Result<Integer, PaillierError> {
        if !self.is_ciphertext(c1) || !self.is_ciphertext(c2) {
            return Err(PaillierError::NotInGroup("ciphertext"));
        }
        Ok(Integer::from(c1 * c2) % &self.nn)
    }

    /// `c^k mod N²` (encrypts `k·m`), constant time in the secret `k` (which may be negative).
    pub fn mul_secret(&self, c: &Integer, k: &Integer) -> Result<Integer, PaillierError> {
        if !self.is_ciphertext(c) {
            return Err(PaillierError::NotInGroup("ciphertext"));
        }
        secure_pow_signed(c, k, &self.nn)
    }

    pub fn to_fast_paillier(&self) -> fast_paillier::EncryptionKey {
        fast_paillier::EncryptionKey::from_n(fast_paillier::backend::Integer::from_rug(
            self.n.clone(),
        ))
    }
}

/// An exponent equivalent to `e` modulo the group order `order`, as short as possible: `e`
/// itself when it is already shorter than the order (negative values stay negative, and GMP
/// inverts the base), else `e mod order`. Reducing a short negative `e` would turn a 128-bit
/// challenge into a full-size exponent.
fn short_exponent(e: &Integer, order: &Integer) -> Integer {
    if e.significant_bits() < order.significant_bits() {
        e.clone()
    } else {
        modp(e, order)
    }
}

/// `base^e mod m` for a secret, possibly negative, exponent, with GMP's `mpz_powm_sec`.
pub(crate) fn secure_pow_signed(
    base: &Integer,
    e: &Integer,
    m: &Integer,
) -> Result<Integer, PaillierError> {
    if *e == 0 {
        return Ok(Integer::from(1));
    }
    let (b, abs) = if *e < 0 {
        let inv = base
            .invert_ref(m)
            .map(Integer::from)
            .ok_or(PaillierError::NotInGroup("base"))?;
        (inv, Integer::from(e.abs_ref()))
    } else {
        (base.clone(), e.clone())
    };
    secure_pow(&b, &abs, m)
}

/// A Paillier secret key: the two safe primes and CRT constants.
///
/// Not `Clone` (one owner). `Debug` prints no secret. Serialised as the two primes; decoding
/// re-runs every check of [`SecretKey::from_primes`].
pub struct SecretKey {
    p: Integer,
    q: Integer,
    public: PublicKey,
    pp: Integer,
    qq: Integer,
    /// `((p−1)·q)⁻¹ mod p` and `((q−1)·p)⁻¹ mod q` (the `h` of CRT decryption with `g = 1+N`).
    hp: Integer,
    hq: Integer,
    /// `q⁻¹ mod p` for CRT recombination.
    q_inv_p: Integer,
    /// `q²⁻¹ mod p²`.
    qq_inv_pp: Integer,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey({:?}, primes: <redacted>)", self.public)
    }
}

#[derive(Serialize, Deserialize)]
struct SecretKeyRepr {
    p: Integer,
    q: Integer,
}

impl Serialize for SecretKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        SecretKeyRepr {
            p: self.p.clone(),
            q: self.q.clone(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for SecretKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = SecretKeyRepr::deserialize(d)?;
        SecretKey::from_primes(r.p, r.q).map_err(serde::de::Error::custom)
    }
}

fn crt(a_p: &Integer, a_q: &Integer, p: &Integer, q: &Integer, q_inv_p: &Integer) -> Integer {
    // x = a_q + q·((a_p − a_q)·q⁻¹ mod p)
    let t = modp(&(Integer::from(a_p - a_q) * q_inv_p), p);
    t * q + a_q
}

impl SecretKey {
    /// Builds a key from two distinct safe primes of equal bit length, both ≡ 3 (mod 4).
    pub fn from_primes(p: Integer, q: Integer) -> Result<Self, PaillierError> {
        if p == q {
            return Err(PaillierError::BadPrimes("p = q"));
        }
        if p.significant_bits() != q.significant_bits() {
            return Err(PaillierError::BadPrimes("p and q differ in length"));
        }
        for x in [&p, &q] {
            if x.mod_u(4) != 3 {
                return Err(PaillierError::BadPrimes("not ≡ 3 mod 4 (Blum)"));
            }
            if x.is_probably_prime(25) == IsPrime::No {
                return Err(PaillierError::BadPrimes("not prime"));
            }
            let half: Integer = Integer::from(x - 1u32) >> 1;
            if half.is_probably_prime(25) == IsPrime::No {
                return Err(PaillierError::BadPrimes("not a safe prime"));
            }
        }
        let n = Integer::from(&p * &q);
        let public = PublicKey::from_n(n);
        let pp = Integer::from(p.square_ref());
        let qq = Integer::from(q.square_ref());
        let inv = |a: Integer, m: &Integer| {
            a.invert(m)
                .map_err(|_| PaillierError::BadPrimes("not invertible"))
        };
        let hp = inv(Integer::from(&p - 1u32) * &q, &p)?;
        let hq = inv(Integer::from(&q - 1u32) * &p, &q)?;
        let q_inv_p = inv(q.clone(), &p)?;
        let qq_inv_pp = inv(qq.clone(), &pp)?;
        Ok(Self {
            p,
            q,
            public,
            pp,
            qq,
            hp,
            hq,
            q_inv_p,
            qq_inv_pp,
        })
    }

    /// A key from two fresh safe primes of `prime_bits` bits each.
    pub fn generate(rng: &mut impl rand_core::CryptoRngCore, prime_bits: u32) -> Self {
        loop {
            let p = crate::prime::generate_safe_prime(rng, prime_bits);
            let q = crate::prime::generate_safe_prime(rng, prime_bits);
            if let Ok(k) = Self::from_primes(p, q) {
                return k;
            }
        }
    }

    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    pub fn p(&self) -> &Integer {
        &self.p
    }

    pub fn q(&self) -> &Integer {
        &self.q
    }

    pub fn phi(&self) -> Integer {
        Integer::from(&self.p - 1u32) * Integer::from(&self.q - 1u32)
    }

    /// CRT decryption with constant-time exponentiation; the result is in `(−N/2, N/2]`.
    pub fn decrypt(&self, c: &Integer) -> Result<Integer, PaillierError> {
        if !self.public.is_ciphertext(c) {
            return Err(PaillierError::NotInGroup("ciphertext"));
        }
        let half = |x: &Integer, m: &Integer, pm1: Integer, h: &Integer, pr: &Integer| {
            secure_pow(x, &pm1, m).map(|u| modp(&((u - 1u32) / pr * h), pr))
        };
        let mp = half(
            c,
            &self.pp,
            Integer::from(&self.p - 1u32),
            &self.hp,
            &self.p,
        )?;
        let mq = half(
            c,
            &self.qq,
            Integer::from(&self.q - 1u32),
            &self.hq,
            &self.q,
        )?;
        let m = crt(&mp, &mq, &self.p, &self.q, &self.q_inv_p);
        let n = self.public.n();
        let half_n = Integer::from(n >> 1);
        Ok(if m > half_n { m - n } else { m })
    }

    /// Decrypts and recovers the nonce `ρ ∈ Z*_N` with `c = (1+N)^m·ρ^N mod N²`.
    pub fn decrypt_with_nonce(&self, c: &Integer) -> Result<(Integer, Integer), PaillierError> {
        let m = self.decrypt(c)?;
        // c ≡ ρ^N (mod N), so ρ = c^{N⁻¹ mod φ(N)} mod N, computed per prime.
        let n = self.public.n();
        let root = |pr: &Integer| -> Result<Integer, PaillierError> {
            let pm1 = Integer::from(pr - 1u32);
            let e = Integer::from(n.invert_ref(&pm1).ok_or(PaillierError::Arithmetic("N⁻¹"))?);
            secure_pow(c, &e, pr)
        };
        let rho = crt(
            &root(&self.p)?,
            &root(&self.q)?,
            &self.p,
            &self.q,
            &self.q_inv_p,
        );
        Ok((m, rho))
    }

    /// `Enc(m; ρ)` under this key, computing `ρ^N` modulo `p²` and `q²` (CRT).
    pub fn encrypt_with(&self, m: &Integer, nonce: &Integer) -> Result<Integer, PaillierError> {
        let n = self.public.n();
        if !in_group(nonce, n) {
            return Err(PaillierError::NotInGroup("nonce"));
        }
        // ρ^N mod p²: reduce the exponent mod φ(p²) = p(p−1).
        let part = |m2: &Integer, pr: &Integer| -> Result<Integer, PaillierError> {
            let order = pr * Integer::from(pr - 1u32);
            let e = modp(n, &order);
            modp(nonce, m2)
                .pow_mod(&e, m2)
                .map_err(|_| PaillierError::Arithmetic("ρ^N"))
        };
        let rp = part(&self.pp, &self.p)?;
        let rq = part(&self.qq, &self.q)?;
        let rn = crt(&rp, &rq, &self.pp, &self.qq, &self.qq_inv_pp);
        Ok(self.public.combine(m, &rn))
    }

    /// `base^e mod N` for a **public** exponent of any sign, by CRT (exponent reduced mod `p−1`,
    /// `q−1`). Variable time: for verifiers working under their own key. `base` must be in `Z*_N`.
    pub fn pow_mod_n(&self, base: &Integer, e: &Integer) -> Result<Integer, PaillierError> {
        if !in_group(base, self.public.n()) {
            return Err(PaillierError::NotInGroup("base"));
        }
        let part = |pr: &Integer| -> Result<Integer, PaillierError> {
            let order = Integer::from(pr - 1u32);
            modp(base, pr)
                .pow_mod(&short_exponent(e, &order), pr)
                .map_err(|_| PaillierError::Arithmetic("CRT power"))
        };
        Ok(crt(
            &part(&self.p)?,
            &part(&self.q)?,
            &self.p,
            &self.q,
            &self.q_inv_p,
        ))
    }

    /// `base^e mod N²` for a **public** exponent of any sign, by CRT modulo `p²` and `q²`
    /// (exponent reduced mod `p(p−1)`, `q(q−1)`). Variable time: for verifiers working under
    /// their own key. `base` must be a ciphertext (in `Z*_{N²}`).
    pub fn pow_mod_nn(&self, base: &Integer, e: &Integer) -> Result<Integer, PaillierError> {
        if !self.public.is_ciphertext(base) {
            return Err(PaillierError::NotInGroup("base"));
        }
        let part = |m2: &Integer, pr: &Integer| -> Result<Integer, PaillierError> {
            let order = pr * Integer::from(pr - 1u32);
            modp(base, m2)
                .pow_mod(&short_exponent(e, &order), m2)
                .map_err(|_| PaillierError::Arithmetic("CRT power"))
        };
        Ok(crt(
            &part(&self.pp, &self.p)?,
            &part(&self.qq, &self.q)?,
            &self.pp,
            &self.qq,
            &self.qq_inv_pp,
        ))
    }

    pub fn encrypt(
        &self,
        rng: &mut impl rand_core::CryptoRngCore,
        m: &Integer,
    ) -> Result<(Integer, Integer), PaillierError> {
        let nonce = crate::sample_in_mult_group(rng, self.public.n());
        Ok((self.encrypt_with(m, &nonce)?, nonce))
    }

    pub fn to_fast_paillier(&self) -> Option<fast_paillier::DecryptionKey> {
        use fast_paillier::backend::Integer as B;
        fast_paillier::DecryptionKey::from_primes(
            B::from_rug(self.p.clone()),
            B::from_rug(self.q.clone()),
        )
        .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prime::generate_safe_prime;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    const FIXTURE: &str = include_str!("../../../test-data/safe-primes-1536.txt");

    fn small_key(seed: u64) -> SecretKey {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        SecretKey::generate(&mut rng, 256)
    }

    fn full_key() -> SecretKey {
        let primes = crate::fixtures::parse_primes(FIXTURE).unwrap();
        SecretKey::from_primes(primes[0].clone(), primes[1].clone()).unwrap()
    }

    #[test]
    fn roundtrip_signed_and_nonce_recovery_at_full_size() {
        let sk = full_key();
        assert_eq!(sk.public().n().significant_bits(), 3072);
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        for m in [
            Integer::from(0),
            Integer::from(5),
            Integer::from(-12345),
            Integer::from(1) << 1300,
        ] {
            let (c, nonce) = sk.public().encrypt(&mut rng, &m).unwrap();
            assert_eq!(sk.decrypt(&c).unwrap(), m);
            let (m2, rho) = sk.decrypt_with_nonce(&c).unwrap();
            assert_eq!(m2, m);
            assert_eq!(rho, nonce);
            // CRT encryption equals public encryption for the same nonce.
            assert_eq!(sk.encrypt_with(&m, &nonce).unwrap(), c);
        }
    }

    #[test]
    fn crt_powers_match_plain_powers() {
        let sk = full_key();
        let n = sk.public().n().clone();
        let nn = sk.public().nn().clone();
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let (c, _) = sk.public().encrypt(&mut rng, &Integer::from(77)).unwrap();
        let b = crate::sample_in_mult_group(&mut rng, &n);
        for e in [
            Integer::from(0),
            Integer::from(3),
            Integer::from(-5),
            Integer::from(&n << 300u32) + 17u32,
            -(Integer::from(1) << 900u32) + 1u32,
        ] {
            assert_eq!(
                sk.pow_mod_n(&b, &e).unwrap(),
                Integer::from(b.pow_mod_ref(&e, &n).unwrap())
            );
            assert_eq!(
                sk.pow_mod_nn(&c, &e).unwrap(),
                Integer::from(c.pow_mod_ref(&e, &nn).unwrap())
            );
        }
        assert!(sk.pow_mod_n(&Integer::from(0), &Integer::from(2)).is_err());
        assert!(sk.pow_mod_nn(&n, &Integer::from(2)).is_err());
    }

    #[test]
    fn homomorphic_operations() {
        let sk = small_key(2);
        let pk = sk.public();
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let (a, _) = pk.encrypt(&mut rng, &Integer::from(20)).unwrap();
        let (b, _) = pk.encrypt(&mut rng, &Integer::from(-7)).unwrap();
        assert_eq!(sk.decrypt(&pk.add(&a, &b).unwrap()).unwrap(), 13);
        assert_eq!(
            sk.decrypt(&pk.mul_secret(&a, &Integer::from(3)).unwrap())
                .unwrap(),
            60
        );
        assert_eq!(
            sk.decrypt(&pk.mul_secret(&a, &Integer::from(-3)).unwrap())
                .unwrap(),
            -60
        );
        assert_eq!(
            sk.decrypt(&pk.mul_secret(&a, &Integer::from(0)).unwrap())
                .unwrap(),
            0
        );
    }

    #[test]
    fn ciphertext_validation() {
        let sk = small_key(4);
        let pk = sk.public();
        assert!(!pk.is_ciphertext(&Integer::from(0)));
        assert!(!pk.is_ciphertext(pk.nn()));
        assert!(!pk.is_ciphertext(&Integer::from(pk.nn() + 1u32)));
        assert!(!pk.is_ciphertext(sk.p()));
        assert!(!pk.is_ciphertext(&Integer::from(sk.q() * 3u32)));
        assert!(pk.is_ciphertext(&Integer::from(1)));
        assert!(sk.decrypt(&Integer::from(0)).is_err());
        assert!(pk
            .encrypt_with(&Integer::from(1), &Integer::from(0))
            .is_err());
        assert!(pk.encrypt_with(&Integer::from(1), sk.p()).is_err());
    }

    #[test]
    fn modulus_validation() {
        let sk = full_key();
        assert!(sk.public().validate(3071, 3072).is_ok());
        assert!(sk.public().validate(3073, 4000).is_err());
        assert!(sk.public().validate(100, 3000).is_err());
        assert!(PublicKey::from_n(Integer::from(sk.public().n() + 1u32))
            .validate(3071, 3072)
            .is_err());
        let p = sk.p().clone();
        assert!(PublicKey::from_n(Integer::from(p.square_ref()))
            .validate(3071, 3072)
            .is_err());
    }

    #[test]
    fn from_primes_rejects_bad_primes() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let p = generate_safe_prime(&mut rng, 128);
        assert_eq!(
            SecretKey::from_primes(p.clone(), p.clone()).unwrap_err(),
            PaillierError::BadPrimes("p = q")
        );
        // A Blum prime that is not safe.
        let mut x: Integer = Integer::from(1) << 127;
        let not_safe = loop {
            x.next_prime_mut();
            if x.mod_u(4) == 3 && !crate::prime::is_safe_prime(&x) {
                break x.clone();
            }
        };
        assert_eq!(
            SecretKey::from_primes(p.clone(), not_safe).unwrap_err(),
            PaillierError::BadPrimes("not a safe prime")
        );
        // A prime ≡ 1 mod 4.
        let mut y: Integer = Integer::from(1) << 127;
        let one_mod_4 = loop {
            y.next_prime_mut();
            if y.mod_u(4) == 1 {
                break y.clone();
            }
        };
        assert!(SecretKey::from_primes(p, one_mod_4).is_err());
    }

    #[test]
    fn serde_roundtrip_and_redacted_debug() {
        let sk = small_key(6);
        let json = serde_json::to_string(&sk).unwrap();
        let back: SecretKey = serde_json::from_str(&json).unwrap();
        assert_eq!(back.public(), sk.public());
        let pk_json = serde_json::to_string(sk.public()).unwrap();
        let pk: PublicKey = serde_json::from_str(&pk_json).unwrap();
        assert_eq!(&pk, sk.public());
        let d = format!("{sk:?}");
        assert!(!d.contains(&sk.p().to_string()) && !d.contains(&sk.p().to_string_radix(16)));
        assert!(d.contains("redacted"));
    }

    #[test]
    fn fast_paillier_conversion_agrees() {
        let sk = small_key(7);
        assert!(sk.to_fast_paillier().is_some());
        assert_eq!(
            sk.public().to_fast_paillier().n().clone().to_rug(),
            *sk.public().n()
        );
    }
}
