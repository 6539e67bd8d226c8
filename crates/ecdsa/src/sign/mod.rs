//! Online signing: one round from a presignature, re-randomized at signing time.
//!
//! GG20 §3.3 Phase 7 (online) > "P_i broadcasts s_i = m·k_i + r·σ_i … s = Σ s_i; if (r, s) is
//! not a valid signature the players abort" and §4.3's check `R^{s_i} = R̄_i^m · S_i^r`.
//!
//! **Re-randomization** (Groth & Shoup, "On the Security of ECDSA with Additive Key Derivation
//! and Presignatures", EUROCRYPT 2022; the construction NEAR's threshold-signatures ships, see
//! PROTOCOL-NOTES §5.2 and §8.6). The network signs 32-byte digests chosen by requesters and
//! keys shifted by public BIP32 tweaks `ε`; with plain presignatures that combination loses
//! security (CVE-2025-66017). So at signing time every signer derives the public
//! `δ = H(key id, y, ε, digest, R, signers, presign sid, ρ)` and signs with
//! `R′ = δ·R`, `k_i′ = k_i/δ`, `σ_i′ = (σ_i + ε·k_i)/δ`:
//! `Σ s_i′ = k′(m + r′(x + ε))` with `R′ = k′⁻¹·G`, a standard signature for `y + ε·G`.
//! **Trust assumption about ρ:** ρ must be fixed only after the request (digest, tweak,
//! presignature) is fixed and must be unpredictable to the requester before then — in the
//! network it comes from the ledger entry that binds the approved request to the presignature;
//! the `tessera demo` draws it from the OS rng after the digest is known.
//!
//! CHECKS: `[S1.1]` `s_j` is a canonical scalar (sender blamed). If the combined signature does
//! not verify, `[S1.2]` blames every `j` with `s_j′·R′ ≠ (m + r′ε)·R̄_j + r′·S_j` (the online
//! identification of GG20, adapted to the re-randomized values). If none fails, the error is a
//! [`ProtocolError::Bug`]: the node must halt the key, never retry with the same presignature.
//!
//! The combined signature is normalised to low-s, its recovery id computed from `R′` (flipped
//! when `s` is negated), and verified against the public key before it is returned, with one
//! double-scalar multiplication that is also the key-recovery relation for the exact nonce
//! point (see [`finalize`]; debug builds also run k256's verifier and key recovery).

use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::{RecoveryId, Signature as K256Signature, VerifyingKey};
use k256::elliptic_curve::ops::MulByGenerator as _;
use k256::elliptic_curve::ops::Reduce;
use k256::elliptic_curve::point::AffineCoordinates;
use k256::elliptic_curve::scalar::IsHigh;
use k256::elliptic_curve::PrimeField;
use k256::{AffinePoint, FieldBytes, ProjectivePoint, Scalar, U256};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tessera_core::inbox::Inbox;
use tessera_core::point::WireScalar;
use tessera_core::wire::{self, Delivery, Header, Outgoing, ProtocolId, WIRE_VERSION};
use tessera_core::{
    Blame, CheckTag, PartyIndex, ProtocolError, SessionId, StateMachine, Transcript, Transition,
};
use zeroize::Zeroizing;

use crate::common::{expect, wire_blame};
use crate::presign::Presignature;
use crate::table::PointTable;

pub const S1_1: CheckTag = CheckTag("[S1.1]");
pub const S1_2: CheckTag = CheckTag("[S1.2]");

/// What to sign.
#[derive(Clone, Debug)]
pub struct SignRequest {
    /// The 32-byte message digest (e.g. SHA-256 of the message, or a chain's sighash).
    pub digest: [u8; 32],
    /// Additive key tweak `ε` (BIP32 non-hardened shift); zero signs with the master key.
    pub tweak: Scalar,
    /// Public entropy ρ fixed after the request (see the module docs).
    pub entropy: [u8; 32],
}

/// A standard ECDSA signature: low-s, with its recovery id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    pub r: [u8; 32],
    pub s: [u8; 32],
    pub recovery_id: u8,
}

impl Signature {
    pub fn to_k256(&self) -> Result<K256Signature, k256::ecdsa::Error> {
        K256Signature::from_scalars(FieldBytes::from(self.r), FieldBytes::from(self.s))
    }

    /// DER encoding (as Bitcoin and OpenSSL expect).
    pub fn to_der(&self) -> Result<Vec<u8>, k256::ecdsa::Error> {
        Ok(self.to_k256()?.to_der().as_bytes().to_vec())
    }
}

#[derive(Serialize, Deserialize)]
struct Bcast1 {
    s: WireScalar,
}

/// The public re-randomizer `δ` (never zero).
pub fn rerandomizer(p: &Presignature, req: &SignRequest) -> Scalar {
    let mut counter = 0u64;
    loop {
        let mut t = Transcript::new(b"tessera.ecdsa.rerandomize.v1");
        t.append(b"key", &p.key_id.0);
        t.append_point(b"y", &p.public_key);
        t.append_scalar(b"tweak", &req.tweak);
        t.append(b"digest", &req.digest);
        t.append_point(b"R", &p.r);
        t.append_u64(b"signers", p.signers.len() as u64);
        for s in p.signers.parties() {
            t.append_party(b"signer", *s);
        }
        t.append_sid(&p.sid);
        t.append(b"entropy", &req.entropy);
        t.append_u64(b"counter", counter);
        let d = t.challenge_scalar(b"delta");
        if d != Scalar::ZERO {
            return d;
        }
        counter += 1;
    }
}

fn digest_scalar(d: &[u8; 32]) -> Scalar {
    <Scalar as Reduce<U256>>::reduce_bytes(&FieldBytes::from(*d))
}

/// One signer's online round. Consumes the presignature.
pub struct Sign {
    out: Vec<Outgoing>,
    me: PartyIndex,
    participants: Vec<PartyIndex>,
    sid: SessionId,
    digest: [u8; 32],
    m: Scalar,
    tweak: Scalar,
    r_prime: ProjectivePoint,
    r_prime_affine: AffinePoint,
    r: Scalar,
    own_s: Scalar,
    y: KeyPoint,
    r_bars: Vec<(PartyIndex, ProjectivePoint)>,
    s_points: Vec<(PartyIndex, ProjectivePoint)>,
    inbox: Inbox<Scalar>,
}

impl std::fmt::Debug for Sign {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sign(party {})", self.me)
    }
}

impl Sign {
    pub fn new(presig: Presignature, req: &SignRequest) -> Result<Self, ProtocolError> {
        Self::start(presig, req, crate::malicious::Behaviour::Honest)
    }

    fn start(
        presig: Presignature,
        req: &SignRequest,
        behaviour: crate::malicious::Behaviour,
    ) -> Result<Self, ProtocolError> {
        let delta = rerandomizer(&presig, req);
        let delta_inv: Scalar =
            Option::from(delta.invert()).ok_or_else(|| ProtocolError::Bug("δ is zero".into()))?;
        // δ is a hash of public data: the variable-time table product is safe.
        let r_prime = match &presig.r_table {
            Some(table) => table.mul_public(&delta),
            None => presig.r * delta,
        };
        let r_prime_affine = r_prime.to_affine();
        let r = <Scalar as Reduce<U256>>::reduce_bytes(&r_prime_affine.x());
        if r == Scalar::ZERO {
            return Err(ProtocolError::InvalidInput(
                "r = 0 (negligible probability): use another presignature".into(),
            ));
        }
        let m = digest_scalar(&req.digest);
        let k_prime = Zeroizing::new(*presig.k * delta_inv);
        let sigma_prime = Zeroizing::new((*presig.sigma + req.tweak * *presig.k) * delta_inv);
        let own_s = m * *k_prime + r * *sigma_prime;
        let sid = presig.sid.derive(b"sign");
        let me = presig.me;
        let header = Header {
            version: WIRE_VERSION,
            protocol: ProtocolId::Sign,
            sid,
            round: 1,
            from: me,
            delivery: Delivery::Broadcast,
        };
        let s = match behaviour {
            // All ones is above q: not the canonical encoding of any scalar.
            crate::malicious::Behaviour::SignNonCanonicalShare => WireScalar([0xff; 32]),
            _ => WireScalar::encode(&own_s),
        };
        let out = vec![wire::encode(&header, &Bcast1 { s })];
        let participants = presig.signers.parties().to_vec();
        let inbox = Inbox::new(participants.iter().copied().filter(|&p| p != me));
        Ok(Self {
            out,
            me,
            participants,
            sid,
            digest: req.digest,
            m,
            tweak: req.tweak,
            r_prime,
            r_prime_affine,
            r,
            own_s,
            y: KeyPoint {
                point: presig.public_key,
                table: presig.y_table.clone(),
            },
            r_bars: presig.r_bars.clone(),
            s_points: presig.s_points.clone(),
            inbox,
        })
        // `presig` (k_i, σ_i) is dropped and zeroized here.
    }

    /// [`Sign::new`] for a signer that deviates as `behaviour` says (tests only).
    #[cfg(feature = "malicious")]
    pub fn new_with_behaviour(
        presig: Presignature,
        req: &SignRequest,
        behaviour: crate::malicious::Behaviour,
    ) -> Result<Self, ProtocolError> {
        Self::start(presig, req, behaviour)
    }

    fn combine(self) -> Result<Signature, ProtocolError> {
        let Sign {
            me,
            digest,
            m,
            tweak,
            r_prime,
            r_prime_affine,
            r,
            own_s,
            y,
            r_bars,
            s_points,
            mut inbox,
            ..
        } = self;
        let blames = inbox.take_blames();
        if !blames.is_empty() {
            return Err(ProtocolError::Aborted(blames));
        }
        let mut shares: Vec<(PartyIndex, Scalar)> = inbox.into_accepted();
        shares.push((me, own_s));
        let s: Scalar = shares.iter().map(|(_, s)| *s).sum();
        let nonce = Nonce {
            point: &r_prime,
            affine: &r_prime_affine,
            r,
        };
        if let Some(sig) = finalize(&y, tweak, &digest, &nonce, m, s)? {
            return Ok(sig);
        }
        // [S1.2] s_j′·R′ = (m + r′ε)·R̄_j + r′·S_j for every honest j.
        let mut blames = Vec::new();
        for (j, s_j) in &shares {
            let (Some(rb), Some(sp)) = (
                r_bars.iter().find(|(p, _)| p == j).map(|(_, v)| *v),
                s_points.iter().find(|(p, _)| p == j).map(|(_, v)| *v),
            ) else {
                continue;
            };
            if r_prime * s_j != rb * (m + r * tweak) + sp * r {
                blames.push(Blame::new(
                    *j,
                    S1_2,
                    "signature share fails s_j·R′ = (m + rε)·R̄_j + r·S_j",
                ));
            }
        }
        if blames.is_empty() {
            return Err(ProtocolError::Bug(
                "combined signature is invalid but every share passes its check".into(),
            ));
        }
        Err(ProtocolError::Aborted(blames))
    }
}

/// The public key `Y`, with its table of multiples when the presignature brought one.
struct KeyPoint {
    point: ProjectivePoint,
    table: Option<Arc<PointTable>>,
}

impl KeyPoint {
    /// `s·Y` for a **public** `s`.
    fn mul_public(&self, s: &Scalar) -> ProjectivePoint {
        match &self.table {
            Some(table) => table.mul_public(s),
            None => self.point * s,
        }
    }
}

/// The re-randomized nonce point `R′`, its affine form and `r = x(R′) mod q`.
struct Nonce<'a> {
    point: &'a ProjectivePoint,
    affine: &'a AffinePoint,
    r: Scalar,
}

/// Normalises `(r, s)` to low-s and checks it against the key `Y + ε·G`, or returns `None` if
/// it is not a valid signature.
///
/// With `R̃ = R′` (or `−R′` when `s` is negated to low-s, which is what negating `s` means for
/// the nonce point), the signature is valid for `Y + ε·G` exactly when
/// `R̃ = ((m + r·ε)/s)·G + (r/s)·Y`; that is also the key-recovery relation for the point `R̃`
/// that the recovery id designates (`y` parity of `R̃`, and whether `R̃.x ≥ q`). So one check
/// verifies the signature and cross-checks the recovery id: `R̃` is the exact point, not one
/// reconstructed from `r`. `G` uses k256's precomputed tables and `Y` the presignature's table
/// (the scalars are public: they are functions of the signature). Debug builds (and so every
/// test) also verify with k256's ECDSA verifier and recover the key with k256 from `(r, s, v)`.
fn finalize(
    y: &KeyPoint,
    tweak: Scalar,
    digest: &[u8; 32],
    nonce: &Nonce<'_>,
    m: Scalar,
    s: Scalar,
) -> Result<Option<Signature>, ProtocolError> {
    let r = nonce.r;
    let high = bool::from(s.is_high());
    let (s, r_tilde) = if high {
        (-s, -*nonce.point)
    } else {
        (s, *nonce.point)
    };
    let Some(s_inv) = Option::<Scalar>::from(s.invert()) else {
        return Ok(None);
    };
    // R̃ = ((m + r·ε)/s)·G + (r/s)·Y
    let expect =
        ProjectivePoint::mul_by_generator(&((m + r * tweak) * s_inv)) + y.mul_public(&(r * s_inv));
    if expect != r_tilde {
        return Ok(None);
    }
    // −R′ has the same x and the other y parity.
    let y_odd = bool::from(nonce.affine.y_is_odd()) != high;
    // bit 1: R̃.x ≥ q, i.e. the x coordinate was reduced to get r.
    let x_reduced = r.to_repr() != nonce.affine.x();
    let recid = RecoveryId::new(y_odd, x_reduced);
    if cfg!(debug_assertions) {
        let child_key = y.point + ProjectivePoint::mul_by_generator(&tweak);
        let sig = K256Signature::from_scalars(r.to_repr(), s.to_repr())
            .map_err(|e| ProtocolError::Bug(format!("signature encoding: {e}")))?;
        let vk = VerifyingKey::from_affine(child_key.to_affine())
            .map_err(|e| ProtocolError::Bug(format!("public key: {e}")))?;
        vk.verify_prehash(digest, &sig)
            .map_err(|e| ProtocolError::Bug(format!("k256 rejects the signature: {e}")))?;
        let recovered = VerifyingKey::recover_from_prehash(digest, &sig, recid)
            .map_err(|e| ProtocolError::Bug(format!("recovery failed: {e}")))?;
        if recovered != vk {
            return Err(ProtocolError::Bug(
                "recovery id does not recover the key".into(),
            ));
        }
    }
    let mut out_r = [0u8; 32];
    let mut out_s = [0u8; 32];
    out_r.copy_from_slice(&r.to_repr());
    out_s.copy_from_slice(&s.to_repr());
    Ok(Some(Signature {
        r: out_r,
        s: out_s,
        recovery_id: recid.to_byte(),
    }))
}

impl StateMachine for Sign {
    type Output = Signature;

    fn me(&self) -> PartyIndex {
        self.me
    }

    fn participants(&self) -> &[PartyIndex] {
        &self.participants
    }

    fn take_outgoing(&mut self) -> Vec<Outgoing> {
        std::mem::take(&mut self.out)
    }

    fn receive(&mut self, from: PartyIndex, bytes: &[u8]) -> Result<(), Blame> {
        let e = expect(ProtocolId::Sign, self.sid, 1, Delivery::Broadcast);
        self.inbox.accept(from, bytes, || {
            let m: Bcast1 = wire::decode(bytes, from, &e).map_err(|e| wire_blame(from, e))?;
            // [S1.1]
            m.s.decode()
                .ok_or_else(|| Blame::new(from, S1_1, "s_j is not a canonical scalar"))
        })
    }

    fn ready(&self) -> bool {
        self.inbox.ready()
    }

    fn proceed(
        self,
        _rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Transition<Self, Signature>, ProtocolError> {
        self.combine().map(Transition::Done)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use k256::elliptic_curve::Field;
    use rand_chacha::rand_core::SeedableRng;

    /// A signature in the protocol's own terms: `R′ = k⁻¹·G`, `s = k(m + r·x)`.
    fn raw(
        seed: u64,
    ) -> (
        ProjectivePoint,
        [u8; 32],
        ProjectivePoint,
        Scalar,
        Scalar,
        Scalar,
    ) {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
        let x = Scalar::random(&mut rng);
        let k = Scalar::random(&mut rng);
        let mut digest = [0u8; 32];
        rand_chacha::rand_core::RngCore::fill_bytes(&mut rng, &mut digest);
        let m = digest_scalar(&digest);
        let y = ProjectivePoint::mul_by_generator(&x);
        let r_prime = ProjectivePoint::mul_by_generator(&k.invert().unwrap());
        let r = <Scalar as Reduce<U256>>::reduce_bytes(&r_prime.to_affine().x());
        let s = k * (m + r * x);
        (y, digest, r_prime, r, m, s)
    }

    fn check(
        y: &ProjectivePoint,
        tweak: Scalar,
        digest: &[u8; 32],
        r_prime: &ProjectivePoint,
        r: Scalar,
        m: Scalar,
        s: Scalar,
    ) -> Option<Signature> {
        let affine = r_prime.to_affine();
        let nonce = Nonce {
            point: r_prime,
            affine: &affine,
            r,
        };
        let plain = KeyPoint {
            point: *y,
            table: None,
        };
        let tabled = KeyPoint {
            point: *y,
            table: Some(Arc::new(PointTable::new(y))),
        };
        let out = finalize(&tabled, tweak, digest, &nonce, m, s).unwrap();
        // With and without the table, the same answer.
        assert_eq!(out, finalize(&plain, tweak, digest, &nonce, m, s).unwrap());
        out
    }

    #[test]
    fn finalize_normalises_low_s_and_its_recovery_id_recovers_the_key() {
        let mut seen_high = false;
        let mut seen_low = false;
        for seed in 0..16 {
            let (y, digest, r_prime, r, m, s) = raw(seed);
            let high = bool::from(s.is_high());
            seen_high |= high;
            seen_low |= !high;
            let sig = check(&y, Scalar::ZERO, &digest, &r_prime, r, m, s).unwrap();
            let k = sig.to_k256().unwrap();
            assert!(!bool::from(
                Option::<Scalar>::from(Scalar::from_repr(sig.s.into()))
                    .unwrap()
                    .is_high()
            ));
            let vk = VerifyingKey::from_affine(y.to_affine()).unwrap();
            vk.verify_prehash(&digest, &k).unwrap();
            let recid = RecoveryId::from_byte(sig.recovery_id).unwrap();
            assert_eq!(
                VerifyingKey::recover_from_prehash(&digest, &k, recid).unwrap(),
                vk
            );
            // The other recovery id recovers another key.
            let other = RecoveryId::from_byte(sig.recovery_id ^ 1).unwrap();
            assert_ne!(
                VerifyingKey::recover_from_prehash(&digest, &k, other).ok(),
                Some(vk)
            );
        }
        assert!(seen_high && seen_low, "both branches of low-s exercised");
    }

    #[test]
    fn finalize_checks_against_the_tweaked_key() {
        // A signature by x is one by (x − ε) + ε: check it as the key Y − ε·G tweaked by ε.
        let (y, digest, r_prime, r, m, s) = raw(7);
        let eps = Scalar::from(123456789u64);
        let master = y - ProjectivePoint::mul_by_generator(&eps);
        let sig = check(&master, eps, &digest, &r_prime, r, m, s).unwrap();
        let vk = VerifyingKey::from_affine(y.to_affine()).unwrap();
        vk.verify_prehash(&digest, &sig.to_k256().unwrap()).unwrap();
        // Without the tweak, the same signature is rejected for the master key.
        assert!(check(&master, Scalar::ZERO, &digest, &r_prime, r, m, s).is_none());
        assert!(check(&master, eps + Scalar::ONE, &digest, &r_prime, r, m, s).is_none());
    }

    #[test]
    fn finalize_rejects_invalid_signatures() {
        let (y, digest, r_prime, r, m, s) = raw(99);
        let z = Scalar::ZERO;
        assert!(check(&y, z, &digest, &r_prime, r, m, s + Scalar::ONE).is_none());
        assert!(check(&y, z, &digest, &r_prime, r, m + Scalar::ONE, s).is_none());
        let other_key = y + ProjectivePoint::GENERATOR;
        assert!(check(&other_key, z, &digest, &r_prime, r, m, s).is_none());
        assert!(check(&y, z, &digest, &r_prime, r, m, Scalar::ZERO).is_none());
        // The nonce point must be the exact R′ (±): another point with the same r is rejected.
        let wrong = r_prime + ProjectivePoint::GENERATOR;
        assert!(check(&y, z, &digest, &wrong, r, m, s).is_none());
    }
}
