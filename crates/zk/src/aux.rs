//! Ring-Pedersen parameters `(N̂, s, t)` that a party publishes so that others can prove range
//! statements *to it*. Tessera uses the party's Paillier modulus as `N̂` (as the CGGMP paper's
//! auxiliary-info phase does): Π^mod and Π^fac on `N` then also cover `N̂`, and a party needs two
//! safe primes, not four.

use rug::Integer;
use serde::{Deserialize, Serialize};

use crate::{SecurityLevel, ZkError};

/// Public ring-Pedersen parameters. `t = r² mod N`, `s = t^λ mod N` for a secret λ.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RingPedersen {
    pub n: Integer,
    pub s: Integer,
    pub t: Integer,
}

impl std::fmt::Debug for RingPedersen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RingPedersen({} bits)", self.n.significant_bits())
    }
}

impl RingPedersen {
    /// Checks the shape of peer-supplied parameters before any proof uses them: modulus size
    /// within the level, odd; `s`, `t` in Z*_N, not ±1, and distinct. (Π^prm proves the rest.)
    pub fn validate(&self, level: &SecurityLevel) -> Result<(), ZkError> {
        let bits = self.n.significant_bits();
        if bits < level.min_modulus_bits || bits > level.max_modulus_bits {
            return Err(ZkError::Statement {
                proof: "aux",
                what: "ring-Pedersen modulus size outside the security level",
            });
        }
        if self.n.is_even() {
            return Err(ZkError::Statement {
                proof: "aux",
                what: "ring-Pedersen modulus is even",
            });
        }
        let n_minus_1 = Integer::from(&self.n - 1u32);
        for (v, what) in [(&self.s, "s"), (&self.t, "t")] {
            if *v <= 1u32 || *v >= n_minus_1 || Integer::from(v.gcd_ref(&self.n)) != 1u32 {
                return Err(ZkError::BadInput { proof: "aux", what });
            }
        }
        if self.s == self.t {
            return Err(ZkError::BadInput {
                proof: "aux",
                what: "s == t",
            });
        }
        Ok(())
    }

    /// The same parameters in the form paillier-zk expects (no precomputed tables).
    pub fn to_paillier_zk(&self) -> paillier_zk::paillier_encryption_in_range::Aux {
        paillier_zk::paillier_encryption_in_range::Aux {
            s: fast_paillier::backend::Integer::from_rug(self.s.clone()),
            t: fast_paillier::backend::Integer::from_rug(self.t.clone()),
            rsa_modulo: fast_paillier::backend::Integer::from_rug(self.n.clone()),
            multiexp: None,
            crt: None,
        }
    }
}
