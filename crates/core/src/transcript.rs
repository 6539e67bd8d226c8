//! The Fiat–Shamir and commitment hash.
//!
//! Every field is written as `len(label) ‖ label ‖ len(value) ‖ value` with 8-byte big-endian
//! lengths, after a length-prefixed domain tag, so no two different sequences of fields encode
//! to the same bytes (TSSHOCK "c-ambiguity", CVE-2022-47931). Challenges are drawn by wide
//! reduction (scalars: 512 bits reduced mod q) or counter-mode expansion (bit strings, big
//! integers), never by a plain `mod` of a short hash.

use k256::elliptic_curve::bigint::U512;
use k256::elliptic_curve::group::GroupEncoding;
use k256::elliptic_curve::ops::Reduce;
use k256::elliptic_curve::PrimeField;
use k256::{ProjectivePoint, Scalar};
use sha2::{Digest, Sha512};

use crate::{PartyIndex, SessionId};

#[derive(Clone)]
pub struct Transcript {
    h: Sha512,
}

impl std::fmt::Debug for Transcript {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Transcript")
    }
}

impl Transcript {
    /// A transcript for one purpose, named by a unique domain tag such as
    /// `b"tessera.zk.schnorr.v1"`.
    pub fn new(domain: &[u8]) -> Self {
        let mut h = Sha512::new();
        h.update(b"tessera/transcript/v1");
        h.update((domain.len() as u64).to_be_bytes());
        h.update(domain);
        Self { h }
    }

    pub fn append(&mut self, label: &[u8], value: &[u8]) -> &mut Self {
        self.h.update((label.len() as u64).to_be_bytes());
        self.h.update(label);
        self.h.update((value.len() as u64).to_be_bytes());
        self.h.update(value);
        self
    }

    pub fn append_u64(&mut self, label: &[u8], v: u64) -> &mut Self {
        self.append(label, &v.to_be_bytes())
    }

    pub fn append_party(&mut self, label: &[u8], p: PartyIndex) -> &mut Self {
        self.append(label, &p.0.to_be_bytes())
    }

    pub fn append_sid(&mut self, sid: &SessionId) -> &mut Self {
        self.append(b"sid", &sid.0)
    }

    pub fn append_scalar(&mut self, label: &[u8], s: &Scalar) -> &mut Self {
        self.append(label, &s.to_repr())
    }

    /// Appends a point in compressed SEC1 form (the identity encodes as 33 zero bytes).
    pub fn append_point(&mut self, label: &[u8], p: &ProjectivePoint) -> &mut Self {
        self.append(label, &p.to_affine().to_bytes()[..])
    }

    pub fn append_points(&mut self, label: &[u8], ps: &[ProjectivePoint]) -> &mut Self {
        self.append_u64(label, ps.len() as u64);
        for p in ps {
            self.append_point(b"elem", p);
        }
        self
    }

    fn finish_block(&self, label: &[u8], counter: u64) -> [u8; 64] {
        let mut h = self.h.clone();
        h.update(b"challenge");
        h.update((label.len() as u64).to_be_bytes());
        h.update(label);
        h.update(counter.to_be_bytes());
        h.finalize().into()
    }

    /// A uniformly distributed scalar (512-bit wide reduction), possibly zero.
    pub fn challenge_scalar(&self, label: &[u8]) -> Scalar {
        let block = self.finish_block(label, 0);
        <Scalar as Reduce<U512>>::reduce(U512::from_be_slice(&block))
    }

    /// `len` pseudorandom bytes, expanded in counter mode.
    pub fn challenge_bytes(&self, label: &[u8], len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 64);
        let mut counter = 0u64;
        while out.len() < len {
            out.extend_from_slice(&self.finish_block(label, counter));
            counter += 1;
        }
        out.truncate(len);
        out
    }

    pub fn challenge_bytes32(&self, label: &[u8]) -> [u8; 32] {
        let block = self.finish_block(label, 0);
        let mut out = [0u8; 32];
        out.copy_from_slice(&block[..32]);
        out
    }

    /// `m` independent challenge bits (for binary-challenge proofs such as Π^prm).
    pub fn challenge_bits(&self, label: &[u8], m: usize) -> Vec<bool> {
        let bytes = self.challenge_bytes(label, m.div_ceil(8));
        (0..m)
            .map(|i| bytes.get(i / 8).is_some_and(|b| (b >> (i % 8)) & 1 == 1))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_is_unambiguous() {
        let mut a = Transcript::new(b"t");
        a.append(b"x", b"ab").append(b"y", b"c");
        let mut b = Transcript::new(b"t");
        b.append(b"x", b"a").append(b"y", b"bc");
        assert_ne!(a.challenge_bytes32(b"c"), b.challenge_bytes32(b"c"));
        let mut c = Transcript::new(b"t2");
        c.append(b"x", b"ab").append(b"y", b"c");
        assert_ne!(a.challenge_bytes32(b"c"), c.challenge_bytes32(b"c"));
        // Same input, same output; different challenge labels differ.
        let mut d = Transcript::new(b"t");
        d.append(b"x", b"ab").append(b"y", b"c");
        assert_eq!(a.challenge_scalar(b"e"), d.challenge_scalar(b"e"));
        assert_ne!(a.challenge_scalar(b"e"), a.challenge_scalar(b"f"));
    }

    #[test]
    fn challenge_expansion_lengths() {
        let t = Transcript::new(b"t");
        assert_eq!(t.challenge_bytes(b"l", 200).len(), 200);
        let bits = t.challenge_bits(b"b", 128);
        assert_eq!(bits.len(), 128);
        // 128 fair coins: all-equal happens with probability 2^-127.
        assert!(bits.iter().any(|&b| b) && bits.iter().any(|&b| !b));
    }
}
