//! Keygen round 2: open the commitment; prove the ring-Pedersen parameters.
//!
//! GG20 §3, Phase 1 > "broadcast KGD_i"; CGGMP auxiliary info round 2 > "send
//! (N_i, s_i, t_i, ψ̂_i, …, u_i) to all" with ψ̂_i = Π^prm.
//!
//! IN: every party's `V_j`. OUT (broadcast): the opening and Π^prm.
//! CHECKS on each received opening (blaming its sender):
//! - `[K2.1]` it hashes to the round-1 commitment `V_j`;
//! - `[K2.2]` exactly `M` Feldman commitments, each a valid non-identity point;
//! - `[K2.3]` `N_j` within the security level's size bounds, `s_j, t_j ∈ Z*_{N_j} \ {±1}`, distinct;
//! - `[K2.4]` Π^prm verifies (m = 128 binary challenges).

use k256::{ProjectivePoint, Scalar};
use rug::Integer;
use tessera_core::inbox::Inbox;
use tessera_core::wire::{self, Delivery, Outgoing, ProtocolId};
use tessera_core::{Blame, PartyIndex, ProtocolError};
use tessera_paillier::PublicKey;
use tessera_zk::{fac, modulus, prm};
use zeroize::Zeroizing;

use super::{
    blame, poly_eval, r1, r3, Bcast2, Bcast3, Common, Opened, P2p3, K2_1, K2_2, K2_3, K2_4,
};
use crate::common::{expect, proof_ctx, scalar_to_integer, wire_blame};

pub(crate) struct Round2 {
    pub common: Common,
    pub out: Vec<Outgoing>,
    coeffs: Zeroizing<Vec<Scalar>>,
    paillier: tessera_paillier::SecretKey,
    own: Bcast2,
    commitments: Vec<(PartyIndex, [u8; 32])>,
    inbox: Inbox<Opened>,
}

impl Round2 {
    pub fn new(
        common: Common,
        out: Vec<Outgoing>,
        coeffs: Zeroizing<Vec<Scalar>>,
        paillier: tessera_paillier::SecretKey,
        own: Bcast2,
        commitments: Vec<(PartyIndex, [u8; 32])>,
    ) -> Self {
        let inbox = Inbox::new(common.others());
        Self {
            common,
            out,
            coeffs,
            paillier,
            own,
            commitments,
            inbox,
        }
    }

    pub fn receive(&mut self, from: PartyIndex, bytes: &[u8]) -> Result<(), Blame> {
        let e = expect(ProtocolId::Keygen, self.common.sid, 2, Delivery::Broadcast);
        let common = &self.common;
        let committed = self
            .commitments
            .iter()
            .find(|(p, _)| *p == from)
            .map(|(_, c)| *c);
        self.inbox.accept(from, bytes, || {
            let m: Bcast2 = wire::decode(bytes, from, &e).map_err(|e| wire_blame(from, e))?;
            check_opening(common, from, committed, m)
        })
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
            coeffs,
            paillier,
            own,
            mut inbox,
            ..
        } = self;
        let blames = inbox.take_blames();
        if !blames.is_empty() {
            return Err(ProtocolError::Aborted(blames));
        }
        let own_coeffs: Vec<ProjectivePoint> = own
            .coeffs
            .iter()
            .map(|c| {
                c.decode()
                    .ok_or_else(|| ProtocolError::Bug("own commitment".into()))
            })
            .collect::<Result<_, _>>()?;
        let mut opened: Vec<(PartyIndex, Opened)> = inbox.into_accepted();
        opened.push((
            common.me,
            Opened {
                coeffs: own_coeffs,
                rid: own.rid,
                chain: own.chain,
                rp: own.rp.clone(),
            },
        ));
        opened.sort_by_key(|(p, _)| *p);

        // rid = ⊕ rid_j and the chain code = ⊕ chain_j, over all parties.
        let mut rid = [0u8; 32];
        let mut chain = [0u8; 32];
        for (_, o) in &opened {
            for (a, b) in rid.iter_mut().zip(o.rid.iter()) {
                *a ^= b;
            }
            for (a, b) in chain.iter_mut().zip(o.chain.iter()) {
                *a ^= b;
            }
        }

        // Π^mod for N_i, bound to rid so it cannot be precomputed or replayed.
        let mut ctx = proof_ctx(super::PROTOCOL, &common.sid, b"mod", common.me, None);
        ctx.append(b"rid", &rid);
        let mod_proof = modulus::prove(
            &ctx,
            &modulus::Statement {
                n: paillier.public().n(),
            },
            &modulus::Witness {
                p: paillier.p(),
                q: paillier.q(),
            },
            &common.level,
            rng,
        )
        .map_err(|e| ProtocolError::Bug(format!("Π^mod prover failed: {e}")))?;

        // Shares f_i(j + 1), encrypted under each recipient's Paillier key so that a receiver can
        // later prove what it got (complaint evidence, tofn keygen r2).
        let mut shares: Vec<Integer> = Vec::with_capacity(opened.len());
        let mut own_share = Scalar::ZERO;
        for (p, o) in &opened {
            let mut s = poly_eval(&coeffs, *p);
            if common.behaviour == (crate::malicious::Behaviour::KeygenBadShare { to: *p }) {
                s += Scalar::ONE;
            }
            if *p == common.me {
                own_share = s;
            }
            let pk = PublicKey::from_n(o.rp.n.clone());
            let (c, _nonce) = pk
                .encrypt(rng, &scalar_to_integer(&s))
                .map_err(|e| ProtocolError::Bug(format!("share encryption failed: {e}")))?;
            shares.push(c);
        }

        let own_dealt = shares.clone();
        let mut out = vec![wire::encode(
            &common.header(3, Delivery::Broadcast),
            &Bcast3 {
                modulus: mod_proof,
                shares,
            },
        )];
        // Π^fac, one per verifier, with the verifier's ring-Pedersen parameters.
        for (p, o) in &opened {
            if *p == common.me {
                continue;
            }
            let ctx = proof_ctx(super::PROTOCOL, &common.sid, b"fac", common.me, Some(*p));
            let proof = fac::prove(
                &ctx,
                &fac::Statement {
                    n: paillier.public().n(),
                    aux: &o.rp,
                },
                &fac::Witness {
                    p: paillier.p(),
                    q: paillier.q(),
                },
                &common.level,
                rng,
            )
            .map_err(|e| ProtocolError::Bug(format!("Π^fac prover failed: {e}")))?;
            out.push(wire::encode(
                &common.header(3, Delivery::P2p { to: *p }),
                &P2p3 { fac: proof },
            ));
        }
        Ok(r3::Round3::new(
            common,
            out,
            Zeroizing::new(own_share),
            own_dealt,
            paillier,
            opened,
            rid,
            chain,
        ))
    }
}

fn check_opening(
    common: &Common,
    from: PartyIndex,
    committed: Option<[u8; 32]>,
    m: Bcast2,
) -> Result<Opened, Blame> {
    // [K2.1] "KGD_i opens KGC_i".
    if committed != Some(r1::commitment(&common.sid, from, &m)) {
        return Err(blame(
            from,
            K2_1,
            "opening does not match the round-1 commitment",
        ));
    }
    // [K2.2] Feldman vector of exactly M valid points (never truncated or padded).
    if m.coeffs.len() != usize::from(common.threshold) {
        return Err(blame(
            from,
            K2_2,
            format!(
                "{} Feldman commitments, expected {}",
                m.coeffs.len(),
                common.threshold
            ),
        ));
    }
    let coeffs: Vec<ProjectivePoint> =
        m.coeffs
            .iter()
            .map(|c| c.decode())
            .collect::<Option<_>>()
            .ok_or_else(|| blame(from, K2_2, "a Feldman commitment is not a valid point"))?;
    // [K2.3] Paillier / ring-Pedersen modulus and bases within the security level.
    m.rp.validate(&common.level)
        .map_err(|e| blame(from, K2_3, e.to_string()))?;
    // [K2.4] Π^prm: s ∈ ⟨t⟩ mod N̂.
    let ctx = proof_ctx(super::PROTOCOL, &common.sid, b"prm", from, None);
    let _verified = prm::verify(&ctx, &m.rp, &common.level, &m.prm)
        .map_err(|e| blame(from, K2_4, e.to_string()))?;
    Ok(Opened {
        coeffs,
        rid: m.rid,
        chain: m.chain,
        rp: m.rp,
    })
}
