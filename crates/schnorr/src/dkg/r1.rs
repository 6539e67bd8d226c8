//! DKG round 1: deal a polynomial, broadcast its Feldman commitments (and, for keygen, a proof
//! of knowledge of its constant term).
//!
//! FROST Figure 1, Round 1 > "1. Every participant P_i samples t random values … 2. Every P_i
//! computes a proof of knowledge to the corresponding secret a_{i0} … 3. … computes a public
//! commitment C⃗_i … 4. Every P_i broadcasts C⃗_i, σ_i to all other participants. 5. Upon
//! receiving C⃗_ℓ, σ_ℓ from participants 1 ≤ ℓ ≤ n, ℓ ≠ i, participant P_i verifies σ_ℓ".
//!
//! IN: nothing (keygen) or the old share (refresh). OUT (broadcast): frost's `round1::Package`.
//! CHECKS on each received package (blaming its sender): `[FK1.1]` decodes, `[FK1.2]`
//! commitment count, `[FK1.3]` proof of knowledge (keygen only). See [`super`].

use std::collections::BTreeMap;

use frost_core::keys::dkg::{self, round1};
use frost_core::keys::refresh;
use tessera_core::inbox::Inbox;
use tessera_core::wire::{Delivery, Outgoing};
use tessera_core::{Blame, PartyIndex, ProtocolError};
use zeroize::Zeroizing;

use super::{r2, Common, Mode, FK1_1, FK1_2, FK1_3};
use crate::common::{bug, decode, encode, expect, header};
use crate::Suite;

pub(crate) struct Round1<C: Suite> {
    pub common: Common<C>,
    pub out: Vec<Outgoing>,
    secret: round1::SecretPackage<C>,
    own: round1::Package<C>,
    inbox: Inbox<round1::Package<C>>,
}

impl<C: Suite> Round1<C> {
    pub fn new(
        common: Common<C>,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Self, ProtocolError> {
        let n = u16::try_from(common.parties.len())
            .map_err(|_| ProtocolError::InvalidInput("too many parties".into()))?;
        let id = common.id(common.me)?;
        let (secret, own) = match common.mode {
            Mode::Keygen => dkg::part1::<C, _>(id, n, common.threshold, &mut *rng),
            Mode::Refresh(_) => {
                refresh::refresh_dkg_part1::<C, _>(id, n, common.threshold, &mut *rng)
            }
        }
        .map_err(|e| ProtocolError::InvalidInput(format!("DKG parameters: {e}")))?;
        let bytes = own.serialize().map_err(|e| bug("round-1 package", e))?;
        let h = header(
            common.protocol(),
            common.sid,
            1,
            common.me,
            Delivery::Broadcast,
        );
        let out = vec![encode(&h, &bytes)];
        let inbox = Inbox::new(common.others());
        Ok(Self {
            common,
            out,
            secret,
            own,
            inbox,
        })
    }

    pub fn receive(&mut self, from: PartyIndex, bytes: &[u8]) -> Result<(), Blame> {
        let common = &self.common;
        let e = expect(common.protocol(), common.sid, 1, Delivery::Broadcast);
        self.inbox.accept(from, bytes, || {
            check_package(common, from, &decode(bytes, from, &e)?)
        })
    }

    pub fn ready(&self) -> bool {
        self.inbox.ready()
    }

    pub fn proceed(self) -> Result<r2::Round2<C>, ProtocolError> {
        let Round1 {
            common,
            secret,
            own,
            mut inbox,
            ..
        } = self;
        let blames = inbox.take_blames();
        if !blames.is_empty() {
            return Err(ProtocolError::Aborted(blames));
        }
        let mut received = BTreeMap::new();
        let mut by_party = Vec::new();
        for (p, package) in inbox.into_accepted() {
            received.insert(common.id(p)?, package.clone());
            by_party.push((p, package));
        }
        // frost verifies the proofs again and computes the shares f_i(ℓ).
        let (secret2, shares) = match common.mode {
            Mode::Keygen => dkg::part2(secret, &received),
            Mode::Refresh(_) => refresh::refresh_dkg_part2(secret, &received),
        }
        .map_err(|e| bug("DKG part 2 on checked packages", e))?;
        let mut out = Vec::new();
        for to in common.others() {
            let share = shares
                .get(&common.id(to)?)
                .ok_or_else(|| ProtocolError::Bug(format!("no share for party {to}")))?;
            let bytes = Zeroizing::new(share.serialize().map_err(|e| bug("round-2 package", e))?);
            let h = header(
                common.protocol(),
                common.sid,
                2,
                common.me,
                Delivery::P2p { to },
            );
            out.push(encode(&h, &bytes));
        }
        drop(shares);
        Ok(r2::Round2::new(
            common, out, secret2, own, received, by_party,
        ))
    }
}

fn check_package<C: Suite>(
    common: &Common<C>,
    from: PartyIndex,
    bytes: &[u8],
) -> Result<round1::Package<C>, Blame> {
    // [FK1.1]
    let package = round1::Package::<C>::deserialize(bytes)
        .map_err(|e| Blame::new(from, FK1_1, format!("round-1 package does not decode: {e}")))?;
    // [FK1.2]
    let got = package.commitment().coefficients().len();
    if got != common.expected_commitments() {
        return Err(Blame::new(
            from,
            FK1_2,
            format!(
                "{got} coefficient commitments, expected {}",
                common.expected_commitments()
            ),
        ));
    }
    // [FK1.3] > "P_i verifies σ_ℓ = (R_ℓ, μ_ℓ) … R_ℓ ≟ g^{μ_ℓ}·φ_{ℓ0}^{−c_ℓ}, c_ℓ = H(ℓ, Φ, φ_{ℓ0}, R_ℓ)"
    if let Mode::Keygen = common.mode {
        let id = common
            .id(from)
            .map_err(|e| Blame::new(from, FK1_3, e.to_string()))?;
        dkg::verify_proof_of_knowledge(id, package.commitment(), package.proof_of_knowledge())
            .map_err(|e| Blame::new(from, FK1_3, format!("proof of knowledge fails: {e}")))?;
    }
    Ok(package)
}
