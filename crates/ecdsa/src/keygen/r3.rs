//! Keygen round 3: modulus proofs, encrypted shares, Feldman checks.
//!
//! GG20 §3, Phase 2 > "P_i performs a (t, n) Feldman-VSS of u_i … Each player verifies the
//! shares it received"; CGGMP auxiliary info round 3 > "ψ_i = Π^mod(… rid …), φ_{i,j} = Π^fac".
//!
//! IN: every party's opening. OUT: broadcast Schnorr proof of `x_i` (or complaints), computed in
//! `proceed` and handed to round 4.
//! CHECKS (blaming the sender):
//! - `[K3.1]` Π^mod on `N_j` verifies (bound to `rid`);
//! - `[K3.2]` Π^fac addressed to us verifies (with our ring-Pedersen parameters);
//! - `[K3.3]` exactly `n` share ciphertexts, each in `Z*_{N_k²}` of its recipient `k`.
//!
//! A share that fails the Feldman check is not blamed here: we cannot yet prove it to others.
//! We reveal it in round 4 (see [`super::complaint`]).

use k256::elliptic_curve::ops::MulByGenerator as _;
use k256::{ProjectivePoint, Scalar};
use rug::Integer;
use tessera_core::wire::{self, Delivery, Outgoing, ProtocolId};
use tessera_core::{Blame, PartyIndex, ProtocolError};
use tessera_paillier::PublicKey;
use tessera_zk::{fac, modulus, schnorr};
use zeroize::Zeroizing;

use super::{
    blame, feldman_eval, r4, Bcast3, Bcast4, Common, Complaint, Opened, P2p3, K3_1, K3_2, K3_3,
};
use crate::common::{group_order, integer_to_scalar, proof_ctx, SplitInbox};

/// A dealer's round-3 broadcast as we keep it.
#[derive(Clone)]
pub(crate) struct Dealt {
    /// The ciphertexts to every party, by index (needed to judge complaints).
    pub shares: Vec<Integer>,
    /// Our share if it passed the Feldman check, else the evidence to reveal.
    pub ours: Result<Scalar, Complaint>,
}

/// What the round-3 checks read of the round's state (borrowed apart from its inboxes).
struct View<'a> {
    common: &'a Common,
    opened: &'a [(PartyIndex, Opened)],
    rid: &'a [u8; 32],
    paillier: &'a tessera_paillier::SecretKey,
}

impl View<'_> {
    fn opened(&self, p: PartyIndex) -> Option<&Opened> {
        self.opened.iter().find(|(q, _)| *q == p).map(|(_, o)| o)
    }

    fn check_fac(&self, from: PartyIndex, m: P2p3) -> Result<(), Blame> {
        let n_from = &self
            .opened(from)
            .ok_or_else(|| blame(from, K3_2, "unknown sender"))?
            .rp
            .n;
        let own_aux = &self
            .opened(self.common.me)
            .ok_or_else(|| blame(from, K3_2, "own aux missing"))?
            .rp;
        // [K3.2] Π^fac: N_j has no factor below 2^ℓ.
        let ctx = proof_ctx(
            super::PROTOCOL,
            &self.common.sid,
            b"fac",
            from,
            Some(self.common.me),
        );
        let st = fac::Statement {
            n: n_from,
            aux: own_aux,
        };
        let _verified = fac::verify(&ctx, &st, &self.common.level, &m.fac)
            .map_err(|e| blame(from, K3_2, e.to_string()))?;
        Ok(())
    }

    fn check_bcast(&self, from: PartyIndex, m: Bcast3) -> Result<Dealt, Blame> {
        let dealer = self
            .opened(from)
            .ok_or_else(|| blame(from, K3_1, "unknown sender"))?;
        // [K3.1] Π^mod: N_j is a Paillier–Blum modulus.
        let mut ctx = proof_ctx(super::PROTOCOL, &self.common.sid, b"mod", from, None);
        ctx.append(b"rid", self.rid);
        let st = modulus::Statement { n: &dealer.rp.n };
        let _verified = modulus::verify(&ctx, &st, &self.common.level, &m.modulus)
            .map_err(|e| blame(from, K3_1, e.to_string()))?;
        // [K3.3] one ciphertext per party, each a valid ciphertext under its recipient's key.
        if m.shares.len() != self.opened.len() {
            return Err(blame(
                from,
                K3_3,
                format!(
                    "{} share ciphertexts, expected {}",
                    m.shares.len(),
                    self.opened.len()
                ),
            ));
        }
        for ((p, o), c) in self.opened.iter().zip(m.shares.iter()) {
            if !PublicKey::from_n(o.rp.n.clone()).is_ciphertext(c) {
                return Err(blame(
                    from,
                    K3_3,
                    format!("share ciphertext for party {p} is not in Z*_(N²)"),
                ));
            }
        }
        let mine = m
            .shares
            .get(self.common.me.as_usize())
            .ok_or_else(|| blame(from, K3_3, "missing own share"))?;
        let ours = self.decrypt_and_check(from, dealer, mine);
        Ok(Dealt {
            shares: m.shares,
            ours,
        })
    }

    /// Decrypts our share from `dealer` and runs the Feldman check; on failure returns the
    /// plaintext and nonce to reveal.
    fn decrypt_and_check(
        &self,
        from: PartyIndex,
        dealer: &Opened,
        c: &Integer,
    ) -> Result<Scalar, Complaint> {
        let Ok((m, nonce)) = self.paillier.decrypt_with_nonce(c) else {
            // Cannot happen for a ciphertext in Z*_{N²}; reveal nothing but still complain.
            return Err(Complaint {
                dealer: from,
                plaintext: Integer::from(-1),
                nonce: Integer::from(0),
            });
        };
        let complaint = Complaint {
            dealer: from,
            plaintext: m.clone(),
            nonce,
        };
        if m < 0 || m >= group_order() {
            return Err(complaint);
        }
        let s = integer_to_scalar(&m);
        if ProjectivePoint::mul_by_generator(&s) != feldman_eval(&dealer.coeffs, self.common.me) {
            return Err(complaint);
        }
        Ok(s)
    }
}

pub(crate) struct Round3 {
    pub common: Common,
    pub out: Vec<Outgoing>,
    own_share: Zeroizing<Scalar>,
    own_dealt: Vec<Integer>,
    paillier: tessera_paillier::SecretKey,
    opened: Vec<(PartyIndex, Opened)>,
    rid: [u8; 32],
    chain: [u8; 32],
    inbox: SplitInbox<Dealt, ()>,
}

impl Round3 {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        common: Common,
        out: Vec<Outgoing>,
        own_share: Zeroizing<Scalar>,
        own_dealt: Vec<Integer>,
        paillier: tessera_paillier::SecretKey,
        opened: Vec<(PartyIndex, Opened)>,
        rid: [u8; 32],
        chain: [u8; 32],
    ) -> Self {
        let inbox = SplitInbox::new(common.others().collect());
        Self {
            common,
            out,
            own_share,
            own_dealt,
            paillier,
            opened,
            rid,
            chain,
            inbox,
        }
    }

    /// A copy at the start of the round (see [`super::Keygen::fork`]).
    #[cfg(feature = "malicious")]
    pub fn fork(&self) -> Result<Self, ProtocolError> {
        if !super::untouched(&self.inbox.bcast) || !super::untouched(&self.inbox.p2p) {
            return Err(ProtocolError::InvalidInput(
                "fork only at the start of a round".into(),
            ));
        }
        Ok(Self {
            common: self.common.clone(),
            out: self.out.clone(),
            own_share: self.own_share.clone(),
            own_dealt: self.own_dealt.clone(),
            paillier: super::copy_paillier(&self.paillier)?,
            opened: self.opened.clone(),
            rid: self.rid,
            chain: self.chain,
            inbox: SplitInbox::new(self.common.others().collect()),
        })
    }

    pub fn receive(&mut self, from: PartyIndex, bytes: &[u8]) -> Result<(), Blame> {
        let view = View {
            common: &self.common,
            opened: &self.opened,
            rid: &self.rid,
            paillier: &self.paillier,
        };
        self.inbox.receive(
            from,
            bytes,
            ProtocolId::Keygen,
            self.common.sid,
            3,
            self.common.me,
            |m: Bcast3| view.check_bcast(from, m),
            |m: P2p3| view.check_fac(from, m),
        )
    }

    pub fn ready(&self) -> bool {
        self.inbox.ready()
    }

    pub fn proceed(
        self,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<r4::Round4, ProtocolError> {
        let Round3 {
            common,
            own_share,
            own_dealt,
            paillier,
            opened,
            rid,
            chain,
            mut inbox,
            ..
        } = self;
        let blames = inbox.take_blames();
        let SplitInbox { bcast, .. } = inbox;
        if !blames.is_empty() {
            return Err(ProtocolError::Aborted(blames));
        }
        let mut dealt: Vec<(PartyIndex, Dealt)> = bcast.into_accepted();

        let mut complaints = Vec::new();
        let mut x = *own_share;
        for (_, d) in &dealt {
            match &d.ours {
                Ok(s) => x += s,
                Err(c) => complaints.push(c.clone()),
            }
        }
        if let crate::malicious::Behaviour::KeygenFalseAccusation { against } = common.behaviour {
            // Reveal the (valid) share from `against` as if it were bad.
            if let Some((_, d)) = dealt.iter().find(|(p, _)| *p == against) {
                if let Some(c) = d.shares.get(common.me.as_usize()) {
                    if let Ok((plaintext, nonce)) = paillier.decrypt_with_nonce(c) {
                        complaints.push(Complaint {
                            dealer: against,
                            plaintext,
                            nonce,
                        });
                    }
                }
            }
        }
        let x = Zeroizing::new(x);
        dealt.push((
            common.me,
            Dealt {
                shares: own_dealt,
                ours: Ok(*own_share),
            },
        ));
        dealt.sort_by_key(|(p, _)| *p);

        // X_j = Σ_l Σ_k (j+1)^k · A_lk and y = Σ_l A_l0 for every party.
        let mut public_shares = Vec::with_capacity(opened.len());
        for (p, _) in &opened {
            let mut acc = ProjectivePoint::IDENTITY;
            for (_, o) in &opened {
                acc += feldman_eval(&o.coeffs, *p);
            }
            public_shares.push(acc);
        }
        let mut y = ProjectivePoint::IDENTITY;
        for (_, o) in &opened {
            y += o
                .coeffs
                .first()
                .copied()
                .unwrap_or(ProjectivePoint::IDENTITY);
        }

        let schnorr = if complaints.is_empty() {
            let own_public = public_shares
                .get(common.me.as_usize())
                .copied()
                .ok_or_else(|| ProtocolError::Bug("own public share".into()))?;
            if ProjectivePoint::mul_by_generator(&x) != own_public {
                return Err(ProtocolError::Bug(
                    "own share does not match the commitments".into(),
                ));
            }
            let mut ctx = proof_ctx(super::PROTOCOL, &common.sid, b"schnorr", common.me, None);
            ctx.append(b"rid", &rid);
            Some(schnorr::prove(&ctx, &x, &own_public, rng))
        } else {
            None
        };
        let msg = Bcast4 {
            complaints: complaints.clone(),
            schnorr,
        };
        let out = vec![wire::encode(&common.header(4, Delivery::Broadcast), &msg)];
        Ok(r4::Round4::new(r4::Round4Input {
            common,
            out,
            x,
            paillier,
            opened,
            dealt,
            own_complaints: complaints,
            public_shares,
            public_key: y,
            rid,
            chain,
        }))
    }
}
