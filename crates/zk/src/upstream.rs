//! Helpers shared by the paillier-zk wrappers (`modulus`, `fac`): context binding, error mapping,
//! strict wire integers, statement checks — and the test fixtures the Paillier proofs share.

use fast_paillier::backend::Integer as BInt;
use rug::Integer;
use tessera_core::Transcript;

pub(crate) use crate::arith::MIN_SLACK_BITS;
use crate::{SecurityLevel, ZkError};

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

/// A peer's Paillier modulus: odd, bit length within the level.
pub(crate) fn check_modulus(
    proof: &'static str,
    what: &'static str,
    n: &Integer,
    level: &SecurityLevel,
) -> Result<(), ZkError> {
    if !crate::arith::modulus_ok(n, level) {
        return Err(ZkError::Statement { proof, what });
    }
    Ok(())
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

    /// The network default: 3072-bit moduli, ℓ = 256, ℓ′ = 848, ε = 230, m = 128.
    pub(crate) const TEST_LEVEL: SecurityLevel = SecurityLevel::LEVEL128;

    /// A test party: Blum primes `p, q`, `N = pq`, and ring-Pedersen parameters on `N̂ = N`.
    pub(crate) struct Party {
        pub p: Integer,
        pub q: Integer,
        pub n: Integer,
        pub aux: RingPedersen,
        key: tessera_paillier::SecretKey,
    }

    impl Party {
        /// The party's Paillier secret key (CRT).
        pub(crate) fn key(&self) -> &tessera_paillier::SecretKey {
            &self.key
        }

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
            if crate::arith::in_mult_group(&x, n) {
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
        let key = tessera_paillier::SecretKey::from_primes(p.clone(), q.clone())
            .expect("the fixture primes are safe Blum primes");
        Party { p, q, n, aux, key }
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
