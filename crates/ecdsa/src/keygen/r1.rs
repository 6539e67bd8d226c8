//! Keygen round 1: commit.
//!
//! GG20 §3, Phase 1 > "Each player P_i selects u_i … computes [KGC_i, KGD_i] = Com(g^{u_i}) and
//! broadcast KGC_i", extended as in CGGMP's auxiliary-info round 1: the commitment also covers
//! the whole Feldman vector, the `rid_i` and chain-code contributions and the party's
//! `(N_i, s_i, t_i)`, so nothing can be chosen after seeing another party's values.
//!
//! IN: own Paillier key. OUT (broadcast): `V_i`. CHECKS: `[K1.1]` the message decodes.

use k256::elliptic_curve::ops::MulByGenerator as _;
use k256::{ProjectivePoint, Scalar};
use rug::integer::Order;
use rug::Integer;
use tessera_core::inbox::Inbox;
use tessera_core::point::WirePoint;
use tessera_core::wire::{self, Delivery, Outgoing, ProtocolId};
use tessera_core::{Blame, PartyIndex, ProtocolError, SessionId, Transcript};
use tessera_zk::{prm, RingPedersen};
use zeroize::Zeroizing;

use super::{r2, Bcast1, Bcast2, Common};
use crate::common::{expect, hedged_scalar, proof_ctx, wire_blame};
use crate::malicious::Behaviour;

/// The commitment `V_i = H(sid, i, A_i, rid_i, chain_i, N_i, s_i, t_i, u_i)`.
pub(crate) fn commitment(sid: &SessionId, party: PartyIndex, m: &Bcast2) -> [u8; 32] {
    let mut t = Transcript::new(b"tessera.ecdsa.keygen.commit.v1");
    t.append_sid(sid);
    t.append_party(b"party", party);
    t.append_u64(b"coeffs", m.coeffs.len() as u64);
    for c in &m.coeffs {
        t.append(b"coeff", &c.0);
    }
    t.append(b"rid", &m.rid);
    t.append(b"chain", &m.chain);
    t.append(b"N", &m.rp.n.to_digits::<u8>(Order::Msf));
    t.append(b"s", &m.rp.s.to_digits::<u8>(Order::Msf));
    t.append(b"t", &m.rp.t.to_digits::<u8>(Order::Msf));
    t.append(b"nonce", &m.nonce);
    t.challenge_bytes32(b"commitment")
}

pub(crate) struct Round1 {
    pub common: Common,
    pub out: Vec<Outgoing>,
    pub coeffs: Zeroizing<Vec<Scalar>>,
    pub paillier: tessera_paillier::SecretKey,
    pub opening: Bcast2,
    inbox: Inbox<[u8; 32]>,
}

impl Round1 {
    pub fn new(
        common: Common,
        paillier: tessera_paillier::SecretKey,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Self, ProtocolError> {
        // The secret polynomial f_i of degree M − 1; its constant term is this party's u_i.
        let degree_plus_one = match common.behaviour {
            Behaviour::KeygenExtraCommitment => common.threshold.saturating_add(1),
            _ => common.threshold,
        };
        let mut coeffs = Zeroizing::new(Vec::with_capacity(usize::from(degree_plus_one)));
        for k in 0..degree_plus_one {
            let seed = Scalar::from(u64::from(k));
            coeffs.push(hedged_scalar(rng, &seed, &common.sid, b"keygen.coeff"));
        }
        let commitments: Vec<WirePoint> = coeffs
            .iter()
            .map(|c| WirePoint::encode(&ProjectivePoint::mul_by_generator(c)))
            .collect();
        let mut rid = [0u8; 32];
        let mut chain = [0u8; 32];
        let mut nonce = [0u8; 32];
        rng.fill_bytes(&mut rid);
        rng.fill_bytes(&mut chain);
        rng.fill_bytes(&mut nonce);

        let (mut rp, prm_secret): (RingPedersen, prm::PrmSecret) =
            prm::generate(rng, paillier.p(), paillier.q());
        let ctx = proof_ctx(super::PROTOCOL, &common.sid, b"prm", common.me, None);
        let prm_proof = prm::prove(&ctx, &rp, &prm_secret, &common.level, rng)
            .map_err(|e| ProtocolError::Bug(format!("Π^prm prover failed: {e}")))?;
        match common.behaviour {
            Behaviour::KeygenDegenerateRingPedersen => rp.s = rp.t.clone(),
            // −1 is a non-residue mod a Blum integer, so −s is outside ⟨t⟩ ⊂ QR_N.
            Behaviour::KeygenBadPrm => rp.s = Integer::from(&rp.n - &rp.s),
            _ => {}
        }

        let opening = Bcast2 {
            coeffs: commitments,
            rid,
            chain,
            rp,
            nonce,
            prm: prm_proof,
        };
        let commitment = commitment(&common.sid, common.me, &opening);
        let out = vec![wire::encode(
            &common.header(1, Delivery::Broadcast),
            &Bcast1 { commitment },
        )];
        let inbox = Inbox::new(common.others());
        Ok(Self {
            common,
            out,
            coeffs,
            paillier,
            opening,
            inbox,
        })
    }

    pub fn receive(&mut self, from: PartyIndex, bytes: &[u8]) -> Result<(), Blame> {
        let e = expect(ProtocolId::Keygen, self.common.sid, 1, Delivery::Broadcast);
        self.inbox.accept(from, bytes, || {
            // [K1.1] The message decodes, for this session, round and sender.
            let m: Bcast1 = wire::decode(bytes, from, &e).map_err(|e| wire_blame(from, e))?;
            Ok(m.commitment)
        })
    }

    pub fn ready(&self) -> bool {
        self.inbox.ready()
    }

    pub fn proceed(
        self,
        _rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<r2::Round2, ProtocolError> {
        let Round1 {
            common,
            coeffs,
            paillier,
            opening,
            mut inbox,
            ..
        } = self;
        let blames = inbox.take_blames();
        if !blames.is_empty() {
            return Err(ProtocolError::Aborted(blames));
        }
        let out = if common.behaviour == Behaviour::KeygenBadOpening {
            let mut other = opening.clone();
            other.nonce = other.nonce.map(|b| !b);
            vec![wire::encode(&common.header(2, Delivery::Broadcast), &other)]
        } else {
            vec![wire::encode(
                &common.header(2, Delivery::Broadcast),
                &opening,
            )]
        };
        Ok(r2::Round2::new(
            common,
            out,
            coeffs,
            paillier,
            opening,
            inbox.into_accepted(),
        ))
    }
}
