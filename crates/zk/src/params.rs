//! The network-wide security level.

use serde::{Deserialize, Serialize};

/// Sizes that every party of a network agrees on.
///
/// The default, [`SecurityLevel::LEVEL128`], is cggmp21's `SecurityLevel128`: ℓ = 256,
/// ℓ′ = 848, ε = 230, m = 128, 3072-bit moduli (at least 3071 bits) built from 1536-bit safe
/// primes, with range-proof challenges from `±2^128` ([`crate::CHALLENGE_BITS`]):
/// `ε ≥ 2 + s + log Q` and `ℓ′ ≥ 2ℓ + ε + s` hold with `s ≈ 100` statistical bits.
/// (cggmp24's `SecurityLevel128` has ε = 512, ℓ′ = 1280 because its proofs draw challenges from
/// `±q/2`; Π^fac, which we still take from paillier-zk 0.7 with those challenges, only needs
/// `ε ≥ 100` because its masks carry a `√N` factor.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityLevel {
    /// κ in the paper (the RSA-equivalent security parameter in bits).
    pub kappa: u32,
    /// ℓ: plaintext range of Π^enc / Π^log* and the `x` range of Π^aff-g, in bits.
    pub ell: u32,
    /// ℓ′: the `y` (β′, ν′) range of Π^aff-g, in bits.
    pub ell_prime: u32,
    /// ε: slack of the range proofs, in bits.
    pub epsilon: u32,
    /// m: repetitions of binary-challenge proofs (Π^prm, Π^mod).
    pub m: u32,
    /// Minimum bit length of a peer's Paillier / ring-Pedersen modulus (`8κ − 1`).
    pub min_modulus_bits: u32,
    /// Maximum accepted bit length of a peer's modulus (bounds the verifier's work).
    pub max_modulus_bits: u32,
    /// Bit length of the safe primes a party generates (`4κ`).
    pub prime_bits: u32,
}

impl SecurityLevel {
    pub const LEVEL128: SecurityLevel = SecurityLevel {
        kappa: 384,
        ell: 256,
        ell_prime: 848,
        epsilon: 230,
        m: 128,
        min_modulus_bits: 3071,
        max_modulus_bits: 3072,
        prime_bits: 1536,
    };
}

impl Default for SecurityLevel {
    fn default() -> Self {
        Self::LEVEL128
    }
}
