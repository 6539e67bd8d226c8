//! Reshare round 2: dealers send the encrypted sub-shares; receivers prove their moduli have
//! no small factors to each other.
//!
//! Dealer `k` broadcasts `Enc_{N_j}(f_k(j + 1))` for every receiver `j`, so that a receiver can
//! prove a bad share to everyone (tss-lib `round_3_old_step_2`, with keygen's evidence scheme);
//! receiver `j` sends Π^fac to every other receiver with the verifier's ring-Pedersen
//! parameters (tss-lib `round_4_new_step_2`).
//!
//! CHECKS (blaming the sender): `[R2.1]` exactly `N′` ciphertexts, each in `Z*_{N_j²}` of its
//! recipient; `[R2.2]` Π^fac addressed to us verifies. A share that fails the Feldman check is
//! revealed in round 3, not blamed here.

use k256::elliptic_curve::ops::MulByGenerator as _;
use k256::{ProjectivePoint, Scalar};
use rug::Integer;
use tessera_core::wire::{self, Delivery, Outgoing, ProtocolId};
use tessera_core::{Blame, PartyIndex, ProtocolError};
use tessera_paillier::PublicKey;
use tessera_zk::{fac, RingPedersen};
use zeroize::Zeroizing;

use super::{blame, r3, Common, Complaint, Dealing, FacMsg, Role, R2_1, R2_2};
use crate::common::{group_order, integer_to_scalar, scalar_to_integer, SplitInbox};
use crate::keygen::{feldman_eval, poly_eval};
use crate::malicious::Behaviour;

pub(crate) enum Own2 {
    Dealer {
        coeffs: Zeroizing<Vec<Scalar>>,
    },
    Receiver {
        paillier: tessera_paillier::SecretKey,
    },
}

/// A dealer's round-2 broadcast as we keep it.
#[derive(Clone)]
pub(crate) struct Dealt {
    /// The ciphertexts to every receiver, by index (needed to judge complaints).
    pub shares: Vec<Integer>,
    /// A receiver's own share if it passed the Feldman check, else the evidence to reveal
    /// (`None` at a dealer).
    pub ours: Option<Result<Scalar, Complaint>>,
}

pub(crate) struct Round2 {
    pub common: Common,
    pub out: Vec<Outgoing>,
    paillier: Option<tessera_paillier::SecretKey>,
    /// Dealers' commitments, by seat (in dealer order).
    commitments: Vec<(PartyIndex, Vec<ProjectivePoint>)>,
    /// Receivers' ring-Pedersen parameters (and Paillier moduli), by index.
    aux: Vec<RingPedersen>,
    own_dealt: Option<Vec<Integer>>,
    inbox: SplitInbox<Dealt, ()>,
}

impl Round2 {
    pub fn new(
        common: Common,
        own: Own2,
        commitments: Vec<(PartyIndex, Vec<ProjectivePoint>)>,
        aux: Vec<RingPedersen>,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Self, ProtocolError> {
        let mut out = Vec::new();
        let mut own_dealt = None;
        let mut paillier = None;
        match own {
            Own2::Dealer { coeffs } => {
                let mut shares = Vec::with_capacity(aux.len());
                for (j, rp) in common.st.receivers().zip(aux.iter()) {
                    let mut s = Zeroizing::new(poly_eval(&coeffs, j));
                    if common.behaviour == (Behaviour::ReshareBadShare { to: j }) {
                        *s += Scalar::ONE;
                    }
                    let (c, _nonce) = PublicKey::from_n(rp.n.clone())
                        .encrypt(rng, &scalar_to_integer(&s))
                        .map_err(|e| ProtocolError::Bug(format!("share encryption: {e}")))?;
                    shares.push(c);
                }
                let mut sent = shares.clone();
                if common.behaviour == Behaviour::ReshareShortDealing {
                    sent.pop();
                }
                out.push(wire::encode(
                    &common.header(2, Delivery::Broadcast),
                    &Dealing { shares: sent },
                ));
                own_dealt = Some(shares);
            }
            Own2::Receiver { paillier: key } => {
                let own_aux = aux
                    .get(common.me.as_usize())
                    .ok_or_else(|| ProtocolError::Bug("own aux".into()))?;
                // Π^fac, one per other receiver, with that verifier's parameters.
                for (j, rp) in common.st.receivers().zip(aux.iter()) {
                    if j == common.me {
                        continue;
                    }
                    let rp = match common.behaviour {
                        Behaviour::ReshareBadFac => own_aux,
                        _ => rp,
                    };
                    let ctx = common.ctx(b"fac", common.me, Some(j));
                    let proof = fac::prove(
                        &ctx,
                        &fac::Statement {
                            n: key.public().n(),
                            aux: rp,
                        },
                        &fac::Witness {
                            p: key.p(),
                            q: key.q(),
                        },
                        &common.st.level,
                        rng,
                    )
                    .map_err(|e| ProtocolError::Bug(format!("Π^fac prover failed: {e}")))?;
                    out.push(wire::encode(
                        &common.header(2, Delivery::P2p { to: j }),
                        &FacMsg { fac: proof },
                    ));
                }
                paillier = Some(key);
            }
        }
        let p2p_from = match common.role {
            Role::Receiver { .. } => common.other_receivers().collect(),
            Role::Dealer { .. } => Vec::new(),
        };
        let inbox = SplitInbox::with_senders(common.other_dealers().collect(), p2p_from);
        Ok(Self {
            common,
            out,
            paillier,
            commitments,
            aux,
            own_dealt,
            inbox,
        })
    }

    pub fn receive(&mut self, from: PartyIndex, bytes: &[u8]) -> Result<(), Blame> {
        let common = &self.common;
        let aux = &self.aux;
        let commitments = &self.commitments;
        let paillier = self.paillier.as_ref();
        self.inbox.receive(
            from,
            bytes,
            ProtocolId::Reshare,
            common.sid,
            2,
            common.me,
            |m: Dealing| check_dealing(common, aux, commitments, paillier, from, m),
            |m: FacMsg| check_fac(common, aux, from, m),
        )
    }

    pub fn ready(&self) -> bool {
        self.inbox.ready()
    }

    pub fn proceed(
        self,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<r3::Round3, ProtocolError> {
        let Round2 {
            common,
            paillier,
            commitments,
            aux,
            own_dealt,
            mut inbox,
            ..
        } = self;
        let blames = inbox.take_blames();
        if !blames.is_empty() {
            return Err(ProtocolError::Aborted(blames));
        }
        let mut dealt: Vec<(PartyIndex, Dealt)> = inbox.bcast.into_accepted();
        if let Some(shares) = own_dealt {
            dealt.push((common.me, Dealt { shares, ours: None }));
        }
        dealt.sort_by_key(|(p, _)| *p);
        r3::Round3::new(common, paillier, commitments, aux, dealt, rng)
    }
}

fn check_dealing(
    common: &Common,
    aux: &[RingPedersen],
    commitments: &[(PartyIndex, Vec<ProjectivePoint>)],
    paillier: Option<&tessera_paillier::SecretKey>,
    from: PartyIndex,
    m: Dealing,
) -> Result<Dealt, Blame> {
    // [R2.1] One ciphertext per receiver, each valid under its recipient's key.
    if m.shares.len() != aux.len() {
        return Err(blame(
            from,
            R2_1,
            format!(
                "{} share ciphertexts, expected {}",
                m.shares.len(),
                aux.len()
            ),
        ));
    }
    for (j, (rp, c)) in aux.iter().zip(m.shares.iter()).enumerate() {
        if !PublicKey::from_n(rp.n.clone()).is_ciphertext(c) {
            return Err(blame(
                from,
                R2_1,
                format!("share ciphertext for receiver {j} is not in Z*_(N²)"),
            ));
        }
    }
    let ours = match (common.role, paillier) {
        (Role::Receiver { j }, Some(key)) => {
            let coeffs = commitments
                .iter()
                .find(|(p, _)| *p == from)
                .map(|(_, c)| c.as_slice())
                .ok_or_else(|| blame(from, R2_1, "dealing from a seat that did not commit"))?;
            let c = m
                .shares
                .get(j.as_usize())
                .ok_or_else(|| blame(from, R2_1, "missing own share"))?;
            Some(decrypt_and_check(key, j, from, coeffs, c))
        }
        _ => None,
    };
    Ok(Dealt {
        shares: m.shares,
        ours,
    })
}

/// Decrypts our share from a dealer and runs the Feldman check; on failure returns the
/// plaintext and nonce to reveal.
fn decrypt_and_check(
    key: &tessera_paillier::SecretKey,
    j: PartyIndex,
    dealer: PartyIndex,
    coeffs: &[ProjectivePoint],
    c: &Integer,
) -> Result<Scalar, Complaint> {
    let Ok((m, nonce)) = key.decrypt_with_nonce(c) else {
        // Cannot happen for a ciphertext in Z*_{N²}; reveal nothing but still complain.
        return Err(Complaint {
            dealer,
            plaintext: Integer::from(-1),
            nonce: Integer::from(0),
        });
    };
    let complaint = Complaint {
        dealer,
        plaintext: m.clone(),
        nonce,
    };
    if m < 0 || m >= group_order() {
        return Err(complaint);
    }
    let s = integer_to_scalar(&m);
    if ProjectivePoint::mul_by_generator(&s) != feldman_eval(coeffs, j) {
        return Err(complaint);
    }
    Ok(s)
}

fn check_fac(
    common: &Common,
    aux: &[RingPedersen],
    from: PartyIndex,
    m: FacMsg,
) -> Result<(), Blame> {
    let (Some(theirs), Some(ours)) = (aux.get(from.as_usize()), aux.get(common.me.as_usize()))
    else {
        return Err(blame(
            from,
            R2_2,
            "Π^fac from a seat that is not a receiver",
        ));
    };
    // [R2.2] Π^fac: N_j has no factor below 2^ℓ.
    let ctx = common.ctx(b"fac", from, Some(common.me));
    let st = fac::Statement {
        n: &theirs.n,
        aux: ours,
    };
    let _verified = fac::verify(&ctx, &st, &common.st.level, &m.fac)
        .map_err(|e| blame(from, R2_2, e.to_string()))?;
    Ok(())
}
