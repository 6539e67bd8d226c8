#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub use rug::Integer;

mod keys;
pub mod prime;
mod random;

pub use keys::{PublicKey, SecretKey};
pub use random::{random_below, random_signed_bits, sample_in_mult_group};

/// Why a Paillier operation failed.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum PaillierError {
    #[error("{0} is not in the multiplicative group")]
    NotInGroup(&'static str),
    #[error("bad modulus: {0}")]
    BadModulus(&'static str),
    #[error("bad primes: {0}")]
    BadPrimes(&'static str),
    #[error("arithmetic failure: {0}")]
    Arithmetic(&'static str),
}

pub mod fixtures {
    //! Reading pregenerated primes.
    use super::{Integer, PaillierError};

    /// Parses one hex prime per line; blank lines and lines starting with `#` are skipped.
    pub fn parse_primes(text: &str) -> Result<Vec<Integer>, PaillierError> {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                Integer::from_str_radix(l, 16).map_err(|_| PaillierError::BadPrimes("not hex"))
            })
            .collect()
    }
}
