//! Reshare round 1: dealers commit to their sub-sharings; receivers publish and prove their
//! Paillier / ring-Pedersen setup.
//!
//! Dealer `k` (old index `i`): `w_i = λ_i·x_i` over the dealer set, a random polynomial `f_k`
//! of degree `M′ − 1` with `f_k(0) = w_i`, Feldman commitments `A_k = (f_k,0·G, …)`
//! (tss-lib `round_1_old_step_1`). Receiver `j`: `(N_j, s_j, t_j)` with Π^prm and Π^mod bound
//! to the session and statement (tss-lib `round_2_new_step_1`, with CGGMP24's proofs).
//!
//! CHECKS on each received message (blaming its sender): `[R1.1]` right role and statement;
//! dealers: `[R1.2]` exactly `M′` valid points, `[R1.3]` `A_k,0 = λ_i·X_i`; receivers:
//! `[R1.4]` parameters within the level, `[R1.5]` Π^prm, `[R1.6]` Π^mod.

use k256::elliptic_curve::ops::MulByGenerator as _;
use k256::{ProjectivePoint, Scalar};
use rug::Integer;
use tessera_core::inbox::Inbox;
use tessera_core::point::WirePoint;
use tessera_core::wire::{self, Delivery, Outgoing, ProtocolId};
use tessera_core::{Blame, PartyIndex, ProtocolError, SignerSet};
use tessera_zk::{modulus, prm, RingPedersen};
use zeroize::Zeroizing;

use super::{
    blame, r2, Common, DealerCommit, Msg1, ReceiverSetup, Role, Secret, R1_1, R1_2, R1_3, R1_4,
    R1_5, R1_6,
};
use crate::common::{expect, hedged_scalar, wire_blame};
use crate::malicious::Behaviour;

/// What a round-1 message gave us.
#[derive(Clone)]
pub(crate) enum Got1 {
    Dealer(Vec<ProjectivePoint>),
    Receiver(RingPedersen),
}

/// A participant's own round-1 material.
pub(crate) enum Own1 {
    Dealer {
        coeffs: Zeroizing<Vec<Scalar>>,
        commitments: Vec<ProjectivePoint>,
    },
    Receiver {
        paillier: tessera_paillier::SecretKey,
        rp: RingPedersen,
    },
}

pub(crate) struct Round1 {
    pub common: Common,
    pub out: Vec<Outgoing>,
    own: Own1,
    inbox: Inbox<Got1>,
}

impl Round1 {
    pub fn dealer(
        common: Common,
        x: &Secret,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Self, ProtocolError> {
        let Role::Dealer { old } = common.role else {
            return Err(ProtocolError::Bug("dealer round for a receiver".into()));
        };
        let st = &common.st;
        let set = SignerSet::new(
            st.dealers.clone(),
            u16::try_from(st.dealers.len()).unwrap_or(u16::MAX),
            u16::MAX,
        )
        .map_err(|e| ProtocolError::Bug(format!("dealer set: {e}")))?;
        let lambda = set
            .lagrange_at_zero(old)
            .ok_or_else(|| ProtocolError::Bug("own Lagrange coefficient".into()))?;
        let mut w = Zeroizing::new(lambda * **x);
        if common.behaviour == Behaviour::ReshareShiftSecret {
            *w += Scalar::ONE;
        }
        let mut coeffs = Zeroizing::new(Vec::with_capacity(usize::from(st.new_threshold)));
        coeffs.push(*w);
        for k in 1..st.new_threshold {
            let seed = Scalar::from(u64::from(k));
            coeffs.push(hedged_scalar(
                rng,
                &(seed + *w),
                &common.sid,
                b"reshare.coeff",
            ));
        }
        let commitments: Vec<ProjectivePoint> = coeffs
            .iter()
            .map(ProjectivePoint::mul_by_generator)
            .collect();
        let mut sent: Vec<WirePoint> = commitments.iter().map(WirePoint::encode).collect();
        if common.behaviour == Behaviour::ReshareShortCommitments {
            sent.pop();
        }
        let msg = Msg1::Dealer(DealerCommit {
            statement: statement_sent(&common),
            coeffs: sent,
        });
        let out = vec![wire::encode(&common.header(1, Delivery::Broadcast), &msg)];
        let inbox = Inbox::new(common.others());
        Ok(Self {
            common,
            out,
            own: Own1::Dealer {
                coeffs,
                commitments,
            },
            inbox,
        })
    }

    pub fn receiver(
        common: Common,
        paillier: tessera_paillier::SecretKey,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Self, ProtocolError> {
        let level = common.st.level;
        let (mut rp, prm_secret) = prm::generate(rng, paillier.p(), paillier.q());
        let ctx = common.ctx(b"prm", common.me, None);
        let prm_proof = prm::prove(&ctx, &rp, &prm_secret, &level, rng)
            .map_err(|e| ProtocolError::Bug(format!("Π^prm prover failed: {e}")))?;
        let prover = match common.behaviour {
            Behaviour::ReshareBadModProof => PartyIndex(common.me.0.wrapping_add(1)),
            _ => common.me,
        };
        let ctx = common.ctx(b"mod", prover, None);
        let mod_proof = modulus::prove(
            &ctx,
            &modulus::Statement {
                n: paillier.public().n(),
            },
            &modulus::Witness {
                p: paillier.p(),
                q: paillier.q(),
            },
            &level,
            rng,
        )
        .map_err(|e| ProtocolError::Bug(format!("Π^mod prover failed: {e}")))?;
        let own_rp = rp.clone();
        match common.behaviour {
            // −1 is a non-residue mod a Blum integer, so −s is outside ⟨t⟩ ⊂ QR_N.
            Behaviour::ReshareBadPrm => rp.s = Integer::from(&rp.n - &rp.s),
            Behaviour::ReshareDegenerateRingPedersen => rp.s = rp.t.clone(),
            _ => {}
        }
        let msg = Msg1::Receiver(Box::new(ReceiverSetup {
            statement: statement_sent(&common),
            rp,
            prm: prm_proof,
            modulus: mod_proof,
        }));
        let out = vec![wire::encode(&common.header(1, Delivery::Broadcast), &msg)];
        let inbox = Inbox::new(common.others());
        Ok(Self {
            common,
            out,
            own: Own1::Receiver {
                paillier,
                rp: own_rp,
            },
            inbox,
        })
    }

    /// A copy that behaves as `behaviour` from round 2 on (see
    /// [`super::Reshare::fork_with_behaviour`]).
    #[cfg(feature = "malicious")]
    pub fn fork(&self, behaviour: Behaviour) -> Result<Self, ProtocolError> {
        let own = match &self.own {
            Own1::Dealer {
                coeffs,
                commitments,
            } => Own1::Dealer {
                coeffs: coeffs.clone(),
                commitments: commitments.clone(),
            },
            Own1::Receiver { paillier, rp } => Own1::Receiver {
                paillier: crate::keygen::copy_paillier(paillier)?,
                rp: rp.clone(),
            },
        };
        let mut common = self.common.clone();
        common.behaviour = behaviour;
        Ok(Self {
            common,
            out: self.out.clone(),
            own,
            inbox: self.inbox.clone(),
        })
    }

    pub fn receive(&mut self, from: PartyIndex, bytes: &[u8]) -> Result<(), Blame> {
        let e = expect(ProtocolId::Reshare, self.common.sid, 1, Delivery::Broadcast);
        let common = &self.common;
        self.inbox.accept(from, bytes, || {
            let m: Msg1 = wire::decode(bytes, from, &e).map_err(|e| wire_blame(from, e))?;
            check(common, from, m)
        })
    }

    pub fn ready(&self) -> bool {
        self.inbox.ready()
    }

    pub fn proceed(
        self,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<r2::Round2, ProtocolError> {
        let Round1 {
            common,
            own,
            mut inbox,
            ..
        } = self;
        let blames = inbox.take_blames();
        if !blames.is_empty() {
            return Err(ProtocolError::Aborted(blames));
        }
        let mut commitments: Vec<(PartyIndex, Vec<ProjectivePoint>)> = Vec::new();
        let mut aux: Vec<(PartyIndex, RingPedersen)> = Vec::new();
        for (p, g) in inbox.into_accepted() {
            match g {
                Got1::Dealer(c) => commitments.push((p, c)),
                Got1::Receiver(rp) => aux.push((p, rp)),
            }
        }
        let own = match own {
            Own1::Dealer {
                coeffs,
                commitments: c,
            } => {
                commitments.push((common.me, c));
                r2::Own2::Dealer { coeffs }
            }
            Own1::Receiver { paillier, rp } => {
                aux.push((common.me, rp));
                r2::Own2::Receiver { paillier }
            }
        };
        commitments.sort_by_key(|(p, _)| *p);
        aux.sort_by_key(|(p, _)| *p);
        let aux: Vec<RingPedersen> = aux.into_iter().map(|(_, rp)| rp).collect();
        if commitments.len() != common.st.dealers.len() || aux.len() != usize::from(common.st.new_n)
        {
            return Err(ProtocolError::Bug("round-1 tables incomplete".into()));
        }
        r2::Round2::new(common, own, commitments, aux, rng)
    }
}

/// The statement digest this party puts in its round-1 message.
fn statement_sent(common: &Common) -> [u8; 32] {
    let mut d = common.digest;
    if common.behaviour == Behaviour::ReshareWrongStatement {
        d[31] ^= 1;
    }
    d
}

fn check(common: &Common, from: PartyIndex, m: Msg1) -> Result<Got1, Blame> {
    let st = &common.st;
    let level = st.level;
    match m {
        Msg1::Dealer(d) => {
            // [R1.1] A dealer's message, from a dealer's seat, for the same statement.
            let Some(old) = st.dealer_at(from) else {
                return Err(blame(
                    from,
                    R1_1,
                    "a dealer's message from a receiver's seat",
                ));
            };
            if d.statement != common.digest {
                return Err(blame(from, R1_1, "names a different resharing statement"));
            }
            // [R1.2] Exactly M′ commitments (degree M′ − 1), each a valid point.
            if d.coeffs.len() != usize::from(st.new_threshold) {
                return Err(blame(
                    from,
                    R1_2,
                    format!(
                        "{} Feldman commitments, expected {}",
                        d.coeffs.len(),
                        st.new_threshold
                    ),
                ));
            }
            let coeffs: Vec<ProjectivePoint> = d
                .coeffs
                .iter()
                .map(|c| c.decode())
                .collect::<Option<_>>()
                .ok_or_else(|| blame(from, R1_2, "a Feldman commitment is not a valid point"))?;
            // [R1.3] The constant term is λ_i·X_i for the dealer's old public share.
            let want = st
                .expected_constant(old)
                .ok_or_else(|| blame(from, R1_3, "dealer has no old public share"))?;
            if coeffs.first() != Some(&want) {
                return Err(blame(
                    from,
                    R1_3,
                    format!("constant-term commitment is not λ·X of old party {old}"),
                ));
            }
            Ok(Got1::Dealer(coeffs))
        }
        Msg1::Receiver(r) => {
            // [R1.1] A receiver's message, from a receiver's seat, for the same statement.
            if st.is_dealer_seat(from) {
                return Err(blame(
                    from,
                    R1_1,
                    "a receiver's message from a dealer's seat",
                ));
            }
            if r.statement != common.digest {
                return Err(blame(from, R1_1, "names a different resharing statement"));
            }
            // [R1.4] N_j, s_j, t_j within the security level.
            r.rp.validate(&level)
                .map_err(|e| blame(from, R1_4, e.to_string()))?;
            // [R1.5] Π^prm: s ∈ ⟨t⟩ mod N̂.
            let ctx = common.ctx(b"prm", from, None);
            let _verified = prm::verify(&ctx, &r.rp, &level, &r.prm)
                .map_err(|e| blame(from, R1_5, e.to_string()))?;
            // [R1.6] Π^mod: N_j is a Paillier–Blum modulus.
            let ctx = common.ctx(b"mod", from, None);
            let _verified =
                modulus::verify(&ctx, &modulus::Statement { n: &r.rp.n }, &level, &r.modulus)
                    .map_err(|e| blame(from, R1_6, e.to_string()))?;
            Ok(Got1::Receiver(r.rp))
        }
    }
}
