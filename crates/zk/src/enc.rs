//! Π^enc — Paillier encryption in range, through `paillier-zk =0.7.0-alpha.3`
//! (`paillier_encryption_in_range`, backend-rug).
//!
//! # Statement
//!
//! Public: the prover's Paillier modulus `N0`, a ciphertext `K ∈ Z*_{N0²}`, and the *verifier's*
//! ring-Pedersen parameters `(N̂, s, t)`. The prover knows `k` and `ρ ∈ Z*_{N0}` with
//! `K = (1 + N0)^k · ρ^{N0} mod N0²` and `|k| ≤ 2^ℓ`; the proof convinces the verifier that
//! `k ∈ ±2^{ℓ+ε}`. In GG20 this is Alice's range proof for `K_i = Enc_i(k_i)` sent to each `P_j`
//! with `P_j`'s ring-Pedersen parameters (SECURITY-CHECKLIST "Presign" step 1; PROTOCOL-NOTES §1.3).
//!
//! Paper: CGGMP24 (ePrint 2021/060, 2024 revision), "Paillier Encryption in Range ZK" (Π^enc;
//! Fig. 11 of that revision according to PROTOCOL-NOTES §1.3, not re-checked against the PDF).
//!
//! # Parameters
//!
//! paillier-zk `SecurityParams { l: ℓ, epsilon: ε, q }` with `q` = the secp256k1 group order (the
//! crate requires it: the challenge is drawn from `±q/2`). Because the challenge is a full
//! 256-bit value, `z1 = α + e·k` with `α ∈ ±2^{ℓ+ε}` only hides `e·k` (≈ 2^{2ℓ}) if `ε ≥ 256 + s`.
//! cggmp21's `ε = 230` was sized for its 128-bit challenges (`Q = 2^128`) and makes honest proofs
//! fail the `z1` range check almost always (see the test
//! `enc_0_cggmp21_epsilon_is_incomplete_upstream`); cggmp24's `SecurityLevel128`, which
//! [`SecurityLevel::LEVEL128`] follows, uses `ε = 512`. `[enc.0]` rejects levels with
//! `ε < 256 + 100`, so a misconfigured level fails loudly instead of blaming honest provers.
//!
//! # Checks
//!
//! paillier-zk checks (its `RangeCheck`/`EqualityCheck` numbers): `K ∈ Z*_{N0²}` (1), `S, C ∈ Z*_N̂`
//! (2, 4), `A ∈ Z*_{N0²}` (3), `z1 ∈ ±2^{ℓ+ε}` (5), `z3 ∈ ±N̂·2^{ℓ+ε}` (6),
//! `Enc_{N0}(z1; z2) = A·K^e` (2), `s^{z1} t^{z3} = C·S^e mod N̂` (3); the challenge hashes the
//! security parameters, our context, `(s, t, N̂)`, `(N0, K)` and the commitment `(S, A, C)`.
//!
//! We add, before calling it:
//! - `[enc.0]` the level is consistent with a curve-order challenge (`ε ≥ 356`, `ℓ + ε + 2 <
//!   min_modulus_bits`);
//! - `[enc.1]` `N0` is odd and its bit length is within `min_modulus_bits..=max_modulus_bits`;
//! - `[enc.2]` the verifier's aux passes [`RingPedersen::validate`];
//! - `[enc.3]` `K ∈ Z*_{N0²}` (0 < K < N0², gcd(K, N0) = 1), reported as our own error;
//! - `[enc.4]` `z2 ∈ Z*_{N0}` (paillier-zk only fails it implicitly, inside the encryption);
//! - context binding: `shared_state` = 32 bytes drawn from the caller's transcript (protocol, session
//!   id, prover and verifier index) after appending the domain `tessera.zk.enc.v1`.
//!
//! The prover additionally refuses a bad witness (a local bug, [`ZkError::Prover`]): `[enc.p1]`
//! `|k| ≤ 2^ℓ`, `[enc.p2]` `ρ ∈ Z*_{N0}`, `[enc.p3]` `K = Enc_{N0}(k; ρ)`.
//!
//! # Wire format
//!
//! [`Proof`] serialises as paillier-zk does (integers as `{"radix": 16, "value": "<hex>"}`), but is
//! *parsed* by our own strict decoder (`wire_int`): paillier-zk / fast-paillier pass the received
//! radix to `rug::Integer::from_str_radix`, which **panics** for a radix outside 2..=36, so a peer
//! could crash us with one malformed proof. We accept only radix 16, lowercase canonical hex, and at
//! most 2^15 bits.
//!
//! This file also holds the helpers shared by `aff_g`, `modulus` and `fac`.

use fast_paillier::backend::Integer as BInt;
use paillier_zk::paillier_encryption_in_range as upstream_enc;
use paillier_zk::IntegerExt;
use rug::ops::RemRounding;
use rug::Integer;
use serde::{Deserialize, Serialize};
use tessera_core::Transcript;

use crate::{RingPedersen, SecurityLevel, Verified, ZkError};

const PROOF: &str = "enc";
const DOMAIN: &[u8] = b"tessera.zk.enc.v1";

/// Public input of Π^enc.
#[derive(Clone, Copy, Debug)]
pub struct Statement<'a> {
    /// `N0`: the prover's own Paillier modulus.
    pub n0: &'a Integer,
    /// `K = Enc_{N0}(k; ρ)`.
    pub ciphertext: &'a Integer,
    /// The verifier's ring-Pedersen parameters `(N̂, s, t)`.
    pub aux: &'a RingPedersen,
}

/// The prover's secret: plaintext `k` (`|k| ≤ 2^ℓ`) and nonce `ρ ∈ Z*_{N0}`.
#[derive(Clone, Copy)]
pub struct Witness<'a> {
    pub k: &'a Integer,
    pub rho: &'a Integer,
}

impl std::fmt::Debug for Witness<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("enc::Witness(<redacted>)")
    }
}

/// A non-interactive Π^enc proof (commitment `(S, A, C)` and response `(z1, z2, z3)`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(from = "ProofWire", into = "ProofWire")]
pub struct Proof(pub(crate) upstream_enc::NiProof);

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProofWire {
    #[serde(with = "wire_int")]
    s: BInt,
    #[serde(with = "wire_int")]
    a: BInt,
    #[serde(with = "wire_int")]
    c: BInt,
    #[serde(with = "wire_int")]
    z1: BInt,
    #[serde(with = "wire_int")]
    z2: BInt,
    #[serde(with = "wire_int")]
    z3: BInt,
}

impl From<Proof> for ProofWire {
    fn from(p: Proof) -> Self {
        let upstream_enc::NiProof { commitment, proof } = p.0;
        ProofWire {
            s: commitment.s,
            a: commitment.a,
            c: commitment.c,
            z1: proof.z1,
            z2: proof.z2,
            z3: proof.z3,
        }
    }
}

impl From<ProofWire> for Proof {
    fn from(w: ProofWire) -> Self {
        Proof(upstream_enc::NiProof {
            commitment: upstream_enc::Commitment {
                s: w.s,
                a: w.a,
                c: w.c,
            },
            proof: upstream_enc::Proof {
                z1: w.z1,
                z2: w.z2,
                z3: w.z3,
            },
        })
    }
}

fn security_params(level: &SecurityLevel) -> upstream_enc::SecurityParams {
    upstream_enc::SecurityParams {
        l: level.ell as usize,
        epsilon: level.epsilon as usize,
        q: BInt::curve_order::<generic_ec::curves::Secp256k1>(),
    }
}

fn check_statement(st: &Statement<'_>, level: &SecurityLevel) -> Result<(), ZkError> {
    check_range_level(PROOF, level)?; // [enc.0]
    check_modulus(PROOF, "N0 (size outside the level, or even)", st.n0, level)?; // [enc.1]
    st.aux.validate(level)?; // [enc.2]
    check_ciphertext(PROOF, "K", st.ciphertext, st.n0) // [enc.3]
}

/// Proves that `st.ciphertext` encrypts a `k` with `|k| ≤ 2^{ℓ+ε}` under `st.n0`, for the owner of
/// `st.aux`. `ctx` must already hold the protocol, session id, prover and verifier index.
pub fn prove(
    ctx: &Transcript,
    st: &Statement<'_>,
    witness: &Witness<'_>,
    level: &SecurityLevel,
    rng: &mut impl rand_core::CryptoRngCore,
) -> Result<Proof, ZkError> {
    check_statement(st, level)?;
    // [enc.p1]
    if !abs_at_most_pow2(witness.k, level.ell) {
        return Err(prover_err("k is larger than 2^ℓ"));
    }
    // [enc.p2]
    if !in_mult_group(witness.rho, st.n0) {
        return Err(prover_err("ρ is not in Z*_N0"));
    }
    // [enc.p3]
    if paillier_encrypt(st.n0, witness.k, witness.rho).as_ref() != Some(st.ciphertext) {
        return Err(prover_err("K is not Enc_N0(k; ρ)"));
    }

    let key = fast_paillier::EncryptionKey::from_n(to_backend(st.n0));
    let ciphertext = to_backend(st.ciphertext);
    let k = to_backend(witness.k);
    let rho = to_backend(witness.rho);
    let proof = upstream_enc::non_interactive::prove::<sha2::Sha256>(
        &bind_context(ctx, DOMAIN),
        &st.aux.to_paillier_zk(),
        upstream_enc::Data {
            key: &key,
            ciphertext: &ciphertext,
        },
        upstream_enc::PrivateData {
            plaintext: &k,
            nonce: &rho,
        },
        &security_params(level),
        rng,
    )
    .map_err(|_| prover_err("paillier-zk could not build the proof"))?;
    Ok(Proof(proof))
}

/// Verifies a Π^enc proof for `st` under the same `ctx` the prover used.
pub fn verify(
    ctx: &Transcript,
    st: &Statement<'_>,
    level: &SecurityLevel,
    proof: &Proof,
) -> Result<Verified, ZkError> {
    check_statement(st, level)?;
    let n0 = to_backend(st.n0);
    // [enc.4]
    if !proof.0.proof.z2.in_mult_group_of(&n0) {
        return Err(ZkError::BadInput {
            proof: PROOF,
            what: "z2 (not in Z*_N0)",
        });
    }
    let key = fast_paillier::EncryptionKey::from_n(n0);
    let ciphertext = to_backend(st.ciphertext);
    upstream_enc::non_interactive::verify::<sha2::Sha256>(
        &bind_context(ctx, DOMAIN),
        &st.aux.to_paillier_zk(),
        upstream_enc::Data {
            key: &key,
            ciphertext: &ciphertext,
        },
        &security_params(level),
        &proof.0,
    )
    .map_err(upstream_err(PROOF))?;
    Ok(Verified::new())
}

fn prover_err(what: &'static str) -> ZkError {
    ZkError::Prover { proof: PROOF, what }
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by enc, aff_g, modulus and fac.
// ---------------------------------------------------------------------------------------------

/// Upper bound on the bit length of the challenge `e ∈ ±q/2` that paillier-zk 0.7 draws for
/// Π^enc and Π^aff-g (`q` = secp256k1 order < 2^256).
pub(crate) const CHALLENGE_BITS: u32 = 256;

/// Statistical slack we require between a mask and what it hides (cggmp21's margin was ≈ 100).
pub(crate) const MIN_SLACK_BITS: u32 = 100;

/// The Fiat–Shamir `shared_state` handed to paillier-zk: 32 bytes drawn from a copy of the
/// caller's transcript after appending this proof's domain label. paillier-zk hashes it (udigest,
/// length-prefixed) together with its own tag, the security parameters, the aux, the statement and
/// the commitment.
pub(crate) fn bind_context(ctx: &Transcript, domain: &[u8]) -> impl udigest::Digestable {
    let mut t = ctx.clone();
    t.append(b"tessera.zk.paillier-zk.proof", domain);
    udigest::Bytes(t.challenge_bytes32(b"paillier-zk-shared-state"))
}

pub(crate) fn to_backend(x: &Integer) -> BInt {
    BInt::from_rug(x.clone())
}

/// Maps paillier-zk's verification error, keeping its reason (e.g. "range check failed 5").
pub(crate) fn upstream_err(proof: &'static str) -> impl Fn(paillier_zk::InvalidProof) -> ZkError {
    move |e| {
        let mut reason = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            reason.push_str(": ");
            reason.push_str(&s.to_string());
            source = s.source();
        }
        ZkError::Upstream { proof, reason }
    }
}

/// `0 < x < n` and `gcd(x, n) = 1`.
pub(crate) fn in_mult_group(x: &Integer, n: &Integer) -> bool {
    *x > 0u32 && x < n && Integer::from(x.gcd_ref(n)) == 1u32
}

/// `|x| ≤ 2^bits`.
pub(crate) fn abs_at_most_pow2(x: &Integer, bits: u32) -> bool {
    x.cmp_abs(&(Integer::from(1u32) << bits)).is_le()
}

/// The predicate paillier-zk applies to responses: `x.is_in_half_pm(2^bits)`, i.e.
/// `|x| ≤ 2^(bits-1)`.
pub(crate) fn in_half_pm_pow2(x: &BInt, bits: u32) -> bool {
    x.is_in_half_pm(&(BInt::one() << bits as usize))
}

/// A peer's Paillier modulus: odd, bit length within the level.
pub(crate) fn check_modulus(
    proof: &'static str,
    what: &'static str,
    n: &Integer,
    level: &SecurityLevel,
) -> Result<(), ZkError> {
    let bits = n.significant_bits();
    if *n <= 0u32 || bits < level.min_modulus_bits || bits > level.max_modulus_bits || n.is_even() {
        return Err(ZkError::Statement { proof, what });
    }
    Ok(())
}

/// A ciphertext in `Z*_{N²}`: `0 < c < N²`, `gcd(c, N) = 1`.
pub(crate) fn check_ciphertext(
    proof: &'static str,
    what: &'static str,
    c: &Integer,
    n: &Integer,
) -> Result<(), ZkError> {
    let nn = Integer::from(n.square_ref());
    if *c <= 0u32 || *c >= nn || Integer::from(c.gcd_ref(n)) != 1u32 {
        return Err(ZkError::BadInput { proof, what });
    }
    Ok(())
}

/// The level is usable with paillier-zk 0.7's curve-order challenges (Π^enc, Π^aff-g): the mask
/// slack `ε` exceeds the challenge size by [`MIN_SLACK_BITS`], and the proven range `±2^{ℓ+ε}`
/// stays far below `N/2` so it means something modulo `N`.
pub(crate) fn check_range_level(proof: &'static str, level: &SecurityLevel) -> Result<(), ZkError> {
    if level.epsilon < CHALLENGE_BITS.saturating_add(MIN_SLACK_BITS) {
        return Err(ZkError::Statement {
            proof,
            what: "security level: ε < 356 leaves no statistical slack over paillier-zk 0.7's \
                   256-bit challenge (cggmp24 SecurityLevel128 uses ε = 512, ℓ' = 1280)",
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

/// Converts a caller's point for paillier-zk, rejecting the identity.
pub(crate) fn to_ec_point(
    proof: &'static str,
    what: &'static str,
    p: &k256::ProjectivePoint,
) -> Result<generic_ec::Point<generic_ec::curves::Secp256k1>, ZkError> {
    use k256::elliptic_curve::group::GroupEncoding;
    let bad = ZkError::BadInput { proof, what };
    if *p == k256::ProjectivePoint::IDENTITY {
        return Err(bad);
    }
    let bytes = p.to_affine().to_bytes();
    let q = generic_ec::Point::<generic_ec::curves::Secp256k1>::from_bytes(&bytes[..])
        .map_err(|_| bad.clone())?;
    if q.is_zero() {
        return Err(bad);
    }
    Ok(q)
}

/// `Enc_N(m; ρ) = (1 + N)^m · ρ^N mod N²` for any integer `m` (None if N is even or ρ is 0).
/// `ρ` is secret: it goes through [`secret_pow_mod`].
pub(crate) fn paillier_encrypt(n: &Integer, m: &Integer, rho: &Integer) -> Option<Integer> {
    let nn = Integer::from(n.square_ref());
    // (1 + N)^m = 1 + m·N (mod N²)
    let gm = (Integer::from(m * n) + 1u32).rem_euc(&nn);
    let rn = secret_pow_mod(rho, n, &nn)?;
    Some((gm * rn).rem_euc(&nn))
}

/// `base^exp mod m` through GMP's side-channel-silent `mpz_powm_sec`, for secret bases or
/// exponents (the provers' self-checks). Negative exponents invert the base first. None if `m` is
/// even or ≤ 1, or the base is not invertible for a negative exponent.
pub(crate) fn secret_pow_mod(base: &Integer, exp: &Integer, m: &Integer) -> Option<Integer> {
    if m.is_even() || *m <= 1u32 {
        return None;
    }
    match exp.cmp0() {
        std::cmp::Ordering::Equal => Some(Integer::from(1u32)),
        std::cmp::Ordering::Greater => Some(Integer::from(base.secure_pow_mod_ref(exp, m))),
        std::cmp::Ordering::Less => {
            let inv = Integer::from(base.invert_ref(m)?);
            let e = Integer::from(-exp);
            Some(Integer::from(inv.secure_pow_mod_ref(&e, m)))
        }
    }
}

/// Strict serde for paillier-zk integers, in fast-paillier's format `{"radix": 16, "value": hex}`.
///
/// fast-paillier's own `Deserialize` hands the received radix to `rug::Integer::from_str_radix`,
/// which panics outside 2..=36. Here: radix must be 16, the value lowercase hex with an optional
/// `-`, no leading zeros, no `-0`, at most [`wire_int::MAX_BITS`] bits.
pub(crate) mod wire_int {
    use fast_paillier::backend::Integer as BInt;
    use serde::{de::Error as _, Deserialize, Deserializer, Serialize, Serializer};

    pub(crate) const MAX_BITS: usize = 1 << 15;

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Dict {
        radix: u16,
        value: String,
    }

    pub(crate) fn serialize<S: Serializer>(x: &BInt, s: S) -> Result<S::Ok, S::Error> {
        Dict {
            radix: 16,
            value: x.to_str_radix(16),
        }
        .serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BInt, D::Error> {
        let Dict { radix, value } = Dict::deserialize(d)?;
        parse(radix, &value)
            .ok_or_else(|| D::Error::custom("integer: not radix-16 canonical hex within 2^15 bits"))
    }

    pub(crate) fn parse(radix: u16, value: &str) -> Option<BInt> {
        if radix != 16 {
            return None;
        }
        let (negative, digits) = match value.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, value),
        };
        let canonical = !digits.is_empty()
            && digits.len() <= MAX_BITS / 4
            && digits
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            && (digits == "0" || !digits.starts_with('0'))
            && !(negative && digits == "0");
        if !canonical {
            return None;
        }
        BInt::from_str_radix(value, 16)
    }
}

// ---------------------------------------------------------------------------------------------
// Test support shared by the four paillier-zk wrappers.
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
pub(crate) mod test_support {
    use std::sync::OnceLock;

    use rand_chacha::rand_core::{RngCore, SeedableRng};
    use rand_chacha::ChaCha20Rng;
    use rug::integer::{IsPrime, Order};
    use rug::ops::RemRounding;
    use rug::Integer;
    use tessera_core::Transcript;

    use crate::{RingPedersen, SecurityLevel};

    /// The network default: 3072-bit moduli, ℓ = 256, ℓ' = 1280, ε = 512, m = 128 (cggmp24's
    /// `SecurityLevel128`, the range parameters paillier-zk 0.7's curve-order challenges need).
    pub(crate) const TEST_LEVEL: SecurityLevel = SecurityLevel::LEVEL128;

    /// cggmp21's `SecurityLevel128` range parameters (`ε = 230`, `ℓ' = 848`).
    pub(crate) const CGGMP21_LEVEL: SecurityLevel = SecurityLevel {
        epsilon: 230,
        ell_prime: 848,
        ..SecurityLevel::LEVEL128
    };

    /// A test party: Blum primes `p, q`, `N = pq`, and ring-Pedersen parameters on `N̂ = N`.
    pub(crate) struct Party {
        pub p: Integer,
        pub q: Integer,
        pub n: Integer,
        pub aux: RingPedersen,
    }

    impl Party {
        pub(crate) fn phi(&self) -> Integer {
            Integer::from(&self.p - 1u32) * Integer::from(&self.q - 1u32)
        }

        /// Paillier decryption, as a signed value in `(-N/2, N/2]`.
        pub(crate) fn decrypt(&self, c: &Integer) -> Integer {
            let nn = Integer::from(self.n.square_ref());
            let phi = self.phi();
            let u = Integer::from(c.pow_mod_ref(&phi, &nn).unwrap());
            let l = (u - 1u32) / &self.n;
            let m = (l * Integer::from(phi.invert_ref(&self.n).unwrap())).rem_euc(&self.n);
            if m > Integer::from(&self.n >> 1u32) {
                m - &self.n
            } else {
                m
            }
        }
    }

    pub(crate) fn rng(seed: u64) -> ChaCha20Rng {
        ChaCha20Rng::seed_from_u64(seed)
    }

    pub(crate) fn random_bits(rng: &mut impl RngCore, bits: u32) -> Integer {
        let mut bytes = vec![0u8; bits.div_ceil(8) as usize];
        rng.fill_bytes(&mut bytes);
        Integer::from_digits(&bytes, Order::Msf).keep_bits(bits)
    }

    pub(crate) fn random_below(rng: &mut impl RngCore, n: &Integer) -> Integer {
        (random_bits(rng, n.significant_bits() + 64)).rem_euc(n)
    }

    pub(crate) fn random_unit(rng: &mut impl RngCore, n: &Integer) -> Integer {
        loop {
            let x = random_below(rng, n);
            if super::in_mult_group(&x, n) {
                return x;
            }
        }
    }

    /// Uniform in `[-2^bits, 2^bits]` (roughly).
    pub(crate) fn random_signed(rng: &mut impl RngCore, bits: u32) -> Integer {
        let x = random_bits(rng, bits);
        if rng.next_u32() & 1 == 1 {
            -x
        } else {
            x
        }
    }

    /// A random `bits`-bit prime ≡ `residue` (mod 4), top two bits set.
    pub(crate) fn prime_mod4(rng: &mut impl RngCore, bits: u32, residue: u32) -> Integer {
        loop {
            let mut x = random_bits(rng, bits);
            x.set_bit(bits - 1, true);
            x.set_bit(bits - 2, true);
            let p = x.next_prime();
            if p.significant_bits() == bits && p.mod_u(4) == residue {
                return p;
            }
        }
    }

    fn fixture_primes() -> Option<Vec<Integer>> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../test-data/safe-primes-1536.txt"
        );
        let text = std::fs::read_to_string(path).ok()?;
        let primes: Vec<Integer> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| Integer::from_str_radix(l.trim_start_matches("0x"), 16).ok())
            .filter(|p| {
                p.significant_bits() == 1536
                    && p.mod_u(4) == 3
                    && p.is_probably_prime(2) != IsPrime::No
            })
            .take(4)
            .collect();
        (primes.len() == 4).then_some(primes)
    }

    fn make_party(rng: &mut impl RngCore, p: Integer, q: Integer) -> Party {
        let n = Integer::from(&p * &q);
        let phi = Integer::from(&p - 1u32) * Integer::from(&q - 1u32);
        let r = random_unit(rng, &n);
        let t = Integer::from(r.square_ref()).rem_euc(&n);
        let lambda = random_below(rng, &phi);
        let s = Integer::from(t.pow_mod_ref(&lambda, &n).unwrap());
        let aux = RingPedersen { n: n.clone(), s, t };
        Party { p, q, n, aux }
    }

    /// Two parties with 3072-bit moduli: from `test-data/safe-primes-1536.txt` when it holds four
    /// usable primes, else random 1536-bit Blum primes from a fixed seed.
    pub(crate) fn parties() -> &'static [Party; 2] {
        static PARTIES: OnceLock<[Party; 2]> = OnceLock::new();
        PARTIES.get_or_init(|| {
            let mut rng = rng(0x7e55e7a);
            let primes = fixture_primes()
                .unwrap_or_else(|| (0..4).map(|_| prime_mod4(&mut rng, 1536, 3)).collect());
            let mut it = primes.into_iter();
            let mut next = || it.next().unwrap();
            let a = make_party(&mut rng, next(), next());
            let b = make_party(&mut rng, next(), next());
            for party in [&a, &b] {
                assert!(party.n.significant_bits() >= 3071);
                party.aux.validate(&TEST_LEVEL).unwrap();
            }
            [a, b]
        })
    }

    /// A caller-built context: protocol, session id, prover and verifier index.
    pub(crate) fn ctx(sid: &[u8], prover: u64, verifier: u64) -> Transcript {
        let mut t = Transcript::new(b"tessera.test.protocol");
        t.append(b"sid", sid)
            .append_u64(b"prover", prover)
            .append_u64(b"verifier", verifier);
        t
    }

    /// Serialises `value` to JSON, lets `f` edit it, and parses it back.
    pub(crate) fn json_edit<T: serde::Serialize + serde::de::DeserializeOwned>(
        value: &T,
        f: impl FnOnce(&mut serde_json::Value),
    ) -> Result<T, serde_json::Error> {
        let mut v = serde_json::to_value(value).unwrap();
        f(&mut v);
        serde_json::from_value(v)
    }

    /// Hex value of a wire integer inside a JSON value.
    pub(crate) fn json_int(v: &serde_json::Value) -> Integer {
        Integer::from_str_radix(v["value"].as_str().unwrap(), 16).unwrap()
    }

    pub(crate) fn json_set_int(v: &mut serde_json::Value, x: &Integer) {
        v["value"] = serde_json::Value::String(x.to_string_radix(16));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::sync::OnceLock;

    use super::test_support::*;
    use super::*;

    struct Fixture {
        ciphertext: Integer,
        k: Integer,
        rho: Integer,
        proof: Proof,
    }

    /// Prover = party 0 (its N0), verifier = party 1 (its aux).
    fn statement<'a>(f: &'a Fixture) -> Statement<'a> {
        let [a, b] = parties();
        Statement {
            n0: &a.n,
            ciphertext: &f.ciphertext,
            aux: &b.aux,
        }
    }

    fn fixture() -> &'static Fixture {
        static F: OnceLock<Fixture> = OnceLock::new();
        F.get_or_init(|| {
            let [a, b] = parties();
            let mut rng = rng(1);
            // A GG20 nonce share: 0 ≤ k < q < 2^256.
            let k = random_bits(&mut rng, 256);
            let rho = random_unit(&mut rng, &a.n);
            let ciphertext = paillier_encrypt(&a.n, &k, &rho).unwrap();
            let st = Statement {
                n0: &a.n,
                ciphertext: &ciphertext,
                aux: &b.aux,
            };
            let proof = prove(
                &ctx(b"sid-1", 0, 1),
                &st,
                &Witness { k: &k, rho: &rho },
                &TEST_LEVEL,
                &mut rng,
            )
            .unwrap();
            Fixture {
                ciphertext,
                k,
                rho,
                proof,
            }
        })
    }

    fn verify_with(st: &Statement<'_>, proof: &Proof) -> Result<Verified, ZkError> {
        verify(&ctx(b"sid-1", 0, 1), st, &TEST_LEVEL, proof)
    }

    fn assert_upstream(r: Result<Verified, ZkError>, reason_contains: &str) {
        match r {
            Err(ZkError::Upstream {
                proof: "enc",
                reason,
            }) => assert!(
                reason.contains(reason_contains),
                "reason {reason:?} lacks {reason_contains:?}"
            ),
            other => panic!("expected upstream rejection, got {other:?}"),
        }
    }

    #[test]
    fn enc_passes_at_level128_sizes() {
        let f = fixture();
        let _: Verified = verify_with(&statement(f), &f.proof).unwrap();
        // A negative plaintext is fine too.
        let [a, b] = parties();
        let mut rng = rng(2);
        let k = -random_bits(&mut rng, 255);
        let rho = random_unit(&mut rng, &a.n);
        let c = paillier_encrypt(&a.n, &k, &rho).unwrap();
        let st = Statement {
            n0: &a.n,
            ciphertext: &c,
            aux: &b.aux,
        };
        let ctx = ctx(b"sid-2", 0, 1);
        let p = prove(
            &ctx,
            &st,
            &Witness { k: &k, rho: &rho },
            &TEST_LEVEL,
            &mut rng,
        )
        .unwrap();
        let _: Verified = verify(&ctx, &st, &TEST_LEVEL, &p).unwrap();
    }

    #[test]
    fn enc_0_level128_is_consistent() {
        check_range_level("enc", &SecurityLevel::LEVEL128).unwrap();
    }

    #[test]
    fn enc_0_rejects_level_with_cggmp21_epsilon() {
        let f = fixture();
        let r = verify(
            &ctx(b"sid-1", 0, 1),
            &statement(f),
            &CGGMP21_LEVEL,
            &f.proof,
        );
        assert!(
            matches!(r, Err(ZkError::Statement { proof: "enc", .. })),
            "{r:?}"
        );
        let mut rng = rng(3);
        let w = Witness {
            k: &f.k,
            rho: &f.rho,
        };
        let r = prove(
            &ctx(b"sid-1", 0, 1),
            &statement(f),
            &w,
            &CGGMP21_LEVEL,
            &mut rng,
        );
        assert!(
            matches!(r, Err(ZkError::Statement { proof: "enc", .. })),
            "{r:?}"
        );
        // ℓ + ε must stay below the modulus size.
        let huge = SecurityLevel {
            epsilon: 3000,
            ..TEST_LEVEL
        };
        let r = verify(&ctx(b"sid-1", 0, 1), &statement(f), &huge, &f.proof);
        assert!(
            matches!(r, Err(ZkError::Statement { proof: "enc", .. })),
            "{r:?}"
        );
    }

    /// Why `[enc.0]` exists: with cggmp21's ε = 230 and paillier-zk 0.7's curve-order challenge,
    /// an honest proof for a 256-bit k fails paillier-zk's own `z1` range check.
    #[test]
    fn enc_0_cggmp21_epsilon_is_incomplete_upstream() {
        let f = fixture();
        let [a, b] = parties();
        let key = fast_paillier::EncryptionKey::from_n(to_backend(&a.n));
        let c = to_backend(&f.ciphertext);
        let data = upstream_enc::Data {
            key: &key,
            ciphertext: &c,
        };
        let params = security_params(&CGGMP21_LEVEL);
        let aux = b.aux.to_paillier_zk();
        let mut rng = rng(4);
        let proof = upstream_enc::non_interactive::prove::<sha2::Sha256>(
            &"state",
            &aux,
            data,
            upstream_enc::PrivateData {
                plaintext: &to_backend(&f.k),
                nonce: &to_backend(&f.rho),
            },
            &params,
            &mut rng,
        )
        .unwrap();
        let r = upstream_enc::non_interactive::verify::<sha2::Sha256>(
            &"state", &aux, data, &params, &proof,
        );
        let e = r.map_err(upstream_err("enc")).unwrap_err();
        assert!(format!("{e}").contains("range check failed 5"), "{e}");
    }

    #[test]
    fn enc_1_rejects_modulus_outside_level() {
        let f = fixture();
        let [a, b] = parties();
        let small = Integer::from(&a.n >> 2u32) | 1u32; // 3070 bits
        let large = (Integer::from(&a.n << 2u32)) | 1u32;
        let even = Integer::from(&a.n + 1u32);
        for n0 in [&small, &large, &even] {
            let st = Statement {
                n0,
                ciphertext: &f.ciphertext,
                aux: &b.aux,
            };
            let r = verify_with(&st, &f.proof);
            assert!(
                matches!(r, Err(ZkError::Statement { proof: "enc", .. })),
                "{r:?}"
            );
        }
    }

    #[test]
    fn enc_2_rejects_bad_aux() {
        let f = fixture();
        let [a, b] = parties();
        let bad = RingPedersen {
            n: b.aux.n.clone(),
            s: b.aux.t.clone(),
            t: b.aux.t.clone(),
        };
        let st = Statement {
            n0: &a.n,
            ciphertext: &f.ciphertext,
            aux: &bad,
        };
        let r = verify_with(&st, &f.proof);
        assert!(
            matches!(r, Err(ZkError::BadInput { proof: "aux", .. })),
            "{r:?}"
        );
    }

    #[test]
    fn enc_3_rejects_ciphertext_outside_group() {
        let f = fixture();
        let [a, b] = parties();
        let nn = Integer::from(a.n.square_ref());
        let multiple = Integer::from(&a.n * 12345u32);
        for c in [
            Integer::new(),
            nn.clone(),
            multiple,
            Integer::from(-1),
            nn + 1u32,
        ] {
            let st = Statement {
                n0: &a.n,
                ciphertext: &c,
                aux: &b.aux,
            };
            let r = verify_with(&st, &f.proof);
            assert_eq!(
                r,
                Err(ZkError::BadInput {
                    proof: "enc",
                    what: "K"
                })
            );
        }
    }

    #[test]
    fn enc_4_rejects_z2_outside_group() {
        let f = fixture();
        let [a, _] = parties();
        for z2 in [Integer::new(), a.n.clone(), a.p.clone()] {
            let mut p = f.proof.clone();
            p.0.proof.z2 = to_backend(&z2);
            let r = verify_with(&statement(f), &p);
            assert!(
                matches!(r, Err(ZkError::BadInput { proof: "enc", .. })),
                "{r:?}"
            );
        }
    }

    #[test]
    fn enc_upstream_rejects_changed_statement() {
        let f = fixture();
        let [a, b] = parties();
        // Another valid ciphertext (K·(1+N0) = Enc(k+1)).
        let other =
            (&f.ciphertext * Integer::from(&a.n + 1u32)).rem_euc(&Integer::from(a.n.square_ref()));
        let st = Statement {
            n0: &a.n,
            ciphertext: &other,
            aux: &b.aux,
        };
        assert_upstream(verify_with(&st, &f.proof), "equality check failed");
        // Another prover modulus (party 1's) with a ciphertext valid under it.
        let c1 = paillier_encrypt(&b.n, &f.k, &Integer::from(7u32)).unwrap();
        let st = Statement {
            n0: &b.n,
            ciphertext: &c1,
            aux: &b.aux,
        };
        assert!(verify_with(&st, &f.proof).is_err());
        // Another verifier's aux.
        let st = Statement {
            n0: &a.n,
            ciphertext: &f.ciphertext,
            aux: &a.aux,
        };
        assert_upstream(verify_with(&st, &f.proof), "equality check failed");
    }

    #[test]
    fn enc_upstream_rejects_replay_under_other_context() {
        let f = fixture();
        let st = statement(f);
        for other in [
            ctx(b"sid-2", 0, 1),
            ctx(b"sid-1", 2, 1),
            ctx(b"sid-1", 0, 2),
        ] {
            assert_upstream(
                verify(&other, &st, &TEST_LEVEL, &f.proof),
                "equality check failed",
            );
        }
    }

    #[test]
    fn enc_upstream_rejects_tampered_responses() {
        let f = fixture();
        let st = statement(f);
        let l_eps = (TEST_LEVEL.ell + TEST_LEVEL.epsilon) as usize;
        type Edit = fn(&mut upstream_enc::NiProof);
        let cases: [(Edit, &str); 6] = [
            (
                |p| p.proof.z1 = &p.proof.z1 + BInt::one(),
                "equality check failed 2",
            ),
            (
                |p| p.proof.z1 = (BInt::one() << 767usize) + BInt::one(),
                "range check failed 5",
            ),
            (
                |p| p.proof.z3 = &p.proof.z3 + BInt::one(),
                "equality check failed 3",
            ),
            (
                |p| p.proof.z2 = &p.proof.z2 + BInt::one(),
                "equality check failed 2",
            ),
            (|p| p.commitment.s = BInt::zero(), "range check failed 2"),
            (|p| p.commitment.a = &p.commitment.a + BInt::one(), ""),
        ];
        assert_eq!(l_eps, 768);
        for (edit, reason) in cases {
            let mut p = f.proof.clone();
            edit(&mut p.0);
            assert_upstream(verify_with(&st, &p), reason);
        }
    }

    #[test]
    fn enc_wire_roundtrip_and_strict_integers() {
        let f = fixture();
        let st = statement(f);
        let back = json_edit(&f.proof, |_| {}).unwrap();
        let _: Verified = verify_with(&st, &back).unwrap();
        // Tamper through the wire: z1 + 1.
        let p = json_edit(&f.proof, |v| {
            let z1 = json_int(&v["z1"]) + 1u32;
            json_set_int(&mut v["z1"], &z1);
        })
        .unwrap();
        assert_upstream(verify_with(&st, &p), "equality check failed 2");
        // fast-paillier would panic on radix 37; we return an error.
        assert!(json_edit(&f.proof, |v| v["z1"]["radix"] = 37.into()).is_err());
        assert!(json_edit(&f.proof, |v| v["z1"]["radix"] = 10.into()).is_err());
        for bad in ["", "-", "-0", "00ff", "FF", "+ff", " ff", "f_f", "0x1"] {
            let r = json_edit(&f.proof, |v| v["z1"]["value"] = bad.into());
            assert!(r.is_err(), "accepted {bad:?}");
        }
        let too_long = "f".repeat(wire_int::MAX_BITS / 4 + 1);
        assert!(json_edit(&f.proof, |v| v["z1"]["value"] = too_long.into()).is_err());
        assert!(json_edit(&f.proof, |v| v["extra"] = 1.into()).is_err());
        assert_eq!(
            wire_int::parse(16, "-1a").map(BInt::to_rug),
            Some(Integer::from(-26))
        );
    }

    /// Why `wire_int` exists: fast-paillier's own `Deserialize` panics on a radix outside 2..=36.
    #[test]
    fn enc_wire_upstream_decoder_panics_on_bad_radix() {
        let bad = r#"{"radix":37,"value":"1"}"#;
        let r = std::panic::catch_unwind(|| serde_json::from_str::<BInt>(bad));
        assert!(r.is_err(), "fast-paillier no longer panics: {r:?}");
        assert!(wire_int::deserialize(&mut serde_json::Deserializer::from_str(bad)).is_err());
    }

    #[test]
    fn secret_pow_mod_matches_pow_mod() {
        let m = Integer::from(1_000_003u32 * 7u32);
        let base = Integer::from(123_456u32);
        for e in [-5i32, -1, 0, 1, 17] {
            let e = Integer::from(e);
            let want = Integer::from(base.pow_mod_ref(&e, &m).unwrap());
            assert_eq!(secret_pow_mod(&base, &e, &m), Some(want));
        }
        assert_eq!(
            secret_pow_mod(&base, &Integer::from(3), &Integer::from(10)),
            None
        );
        assert_eq!(
            secret_pow_mod(&Integer::from(7), &Integer::from(-1), &Integer::from(49)),
            None
        );
    }

    #[test]
    fn enc_prover_rejects_bad_witness() {
        let f = fixture();
        let [a, _] = parties();
        let st = statement(f);
        let c = ctx(b"sid-1", 0, 1);
        let mut rng = rng(5);
        let too_big = Integer::from(1u32) << 257u32;
        let other_k = Integer::from(&f.k + 1u32);
        let cases = [
            (
                Witness {
                    k: &too_big,
                    rho: &f.rho,
                },
                "k is larger than 2^ℓ",
            ),
            (Witness { k: &f.k, rho: &a.p }, "ρ is not in Z*_N0"),
            (
                Witness {
                    k: &other_k,
                    rho: &f.rho,
                },
                "K is not Enc_N0(k; ρ)",
            ),
        ];
        for (w, what) in cases {
            let r = prove(&c, &st, &w, &TEST_LEVEL, &mut rng);
            assert_eq!(r.unwrap_err(), ZkError::Prover { proof: "enc", what });
        }
    }

    #[test]
    #[ignore = "timing only: cargo test -p tessera-zk --release -- --ignored --nocapture timing"]
    fn enc_timing_level128() {
        let f = fixture();
        let st = statement(f);
        let c = ctx(b"sid-t", 0, 1);
        let mut rng = rng(6);
        let w = Witness {
            k: &f.k,
            rho: &f.rho,
        };
        let t = std::time::Instant::now();
        let p = prove(&c, &st, &w, &TEST_LEVEL, &mut rng).unwrap();
        let tp = t.elapsed();
        let t = std::time::Instant::now();
        let _: Verified = verify(&c, &st, &TEST_LEVEL, &p).unwrap();
        println!("enc: prove {tp:?}, verify {:?}", t.elapsed());
    }
}
