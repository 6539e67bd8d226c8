//! Deliberate deviations, for tests of identifiable abort.
//!
//! A [`Behaviour`] can only be given to a protocol through the constructors that exist with the
//! `malicious` cargo feature (`Keygen::new_with_behaviour`, `Presign::new_with_behaviour`,
//! `Sign::new_with_behaviour`); ordinary builds always run [`Behaviour::Honest`].
//!
//! Checks of a single message that no behaviour here triggers are reached in the tests
//! (`crates/sim/tests/identification.rs`) by re-encoding the cheater's message in transit:
//! `[K3.1]`, `[K3.2]` (Π^fac sent to the wrong verifier), `[K3.3]`, `[K4.2]`, `[K4.4]`,
//! `[K4.5]` (in branches of one shared key generation, see `Keygen::fork`), `[P1.1]`, `[P2.1]`,
//! `[P2.2]`, `[P3.1]`, `[P3.2]`, `[P5.1]`, `[P6.1]`; the proof checks `[P1.2]`, `[P2.3]`,
//! `[P2.4]`, `[P5.2]` by changing the broadcast statement (`K_i`, `D^γ`, `D^w`, `R̄_i`) after the
//! proof of the original was made; `[T5.0]`–`[T5.3]` on top of [`Behaviour::PresignWrongDelta`]
//! and `[T7.0]`–`[T7.2]` on top of [`Behaviour::PresignWrongSigma`] by changing the reveal.
//! `[P4.2]` is reached by splicing two sessions of the same signer: it commits to one `Γ_i` in
//! round 1 and answers the MtA with another in round 2. `[T5.5]` has no test: it cannot fire
//! once `[P5.2]` and `[T5.1]` passed (see `presign::type5`).

use tessera_core::PartyIndex;

/// How one party deviates. Each behaviour names the check that must catch it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Behaviour {
    #[default]
    Honest,
    /// Keygen: open the round-1 commitment with another nonce — caught by `[K2.1]`.
    KeygenBadOpening,
    /// Keygen: commit to and open `M + 1` Feldman commitments (a polynomial of degree `M`,
    /// one more than the threshold allows) — caught by `[K2.2]`.
    KeygenExtraCommitment,
    /// Keygen: publish ring-Pedersen parameters with `s = t` (commitments under them bind
    /// nothing) — caught by `[K2.3]`.
    KeygenDegenerateRingPedersen,
    /// Keygen: publish `s = −t^λ mod N`, outside `⟨t⟩` (a quadratic non-residue), with the
    /// Π^prm proof made for `t^λ` — caught by `[K2.4]`.
    KeygenBadPrm,
    /// Keygen: deal `f(to) + 1` to party `to` — caught by `[K4.1]`.
    KeygenBadShare { to: PartyIndex },
    /// Keygen: complain about a valid share from `against` — caught by `[K4.3]`.
    KeygenFalseAccusation { against: PartyIndex },
    /// Presign: broadcast `δ_i + 1` — leads to type-5 identification, caught by `[T5.4]`.
    PresignWrongDelta,
    /// Presign: use `σ_i + 1` (consistently in `T_i` and `S_i`) — leads to type-7
    /// identification, caught by `[T7.3]`.
    PresignWrongSigma,
    /// Presign: open the round-1 commitment `C_i` with another nonce — caught by `[P4.1]`.
    PresignBadGammaOpening,
    /// Presign: prove knowledge of `γ_i + 1` for `Γ_i` in round 4 — caught by `[P4.3]`.
    PresignBadGammaSchnorr,
    /// Presign: compute `S_i` from `σ_i + 1` after `T_i` committed to `σ_i` — caught by
    /// `[P6.2]`.
    PresignInconsistentS,
    /// Sign: broadcast `s_i` as 32 bytes that are not a canonical scalar (`≥ q`) — caught by
    /// `[S1.1]`.
    SignNonCanonicalShare,
    /// Reshare: name another statement in the round-1 message — caught by `[R1.1]`.
    ReshareWrongStatement,
    /// Reshare (dealer): commit to only `M′ − 1` coefficients — caught by `[R1.2]`.
    ReshareShortCommitments,
    /// Reshare (dealer): deal a sharing of `λ_i·x_i + 1` — caught by `[R1.3]`.
    ReshareShiftSecret,
    /// Reshare (receiver): publish ring-Pedersen parameters with `s = t` — caught by `[R1.4]`.
    ReshareDegenerateRingPedersen,
    /// Reshare (receiver): publish `s = −s mod N` with the Π^prm proof made for `s` — caught by
    /// `[R1.5]`.
    ReshareBadPrm,
    /// Reshare (receiver): a Π^mod proof made for another prover's context — caught by
    /// `[R1.6]`.
    ReshareBadModProof,
    /// Reshare (dealer): send one share ciphertext too few — caught by `[R2.1]`.
    ReshareShortDealing,
    /// Reshare (receiver): prove Π^fac with its own ring-Pedersen parameters instead of each
    /// verifier's — caught by `[R2.2]`.
    ReshareBadFac,
    /// Reshare (dealer): deal `f(to) + 1` to receiver `to` — caught by `[R3.1]`.
    ReshareBadShare { to: PartyIndex },
    /// Reshare (receiver): complain about the dealer at seat `against` with a reveal that does
    /// not re-encrypt to its ciphertext — caught by `[R3.2]`.
    ReshareBadReveal { against: PartyIndex },
    /// Reshare (receiver): complain about a valid share from the dealer at seat `against` —
    /// caught by `[R3.3]`.
    ReshareFalseAccusation { against: PartyIndex },
    /// Reshare (receiver): 8 copies of a complaint about the dealer at seat `against` (a flood
    /// makes every judge re-encrypt once per copy) — refused before judging by `[R3.6]`.
    ReshareComplaintFlood { against: PartyIndex },
    /// Reshare (receiver): a Schnorr proof for `x′_j + 1` — caught by `[R3.4]`.
    ReshareBadSchnorr,
    /// Reshare (receiver): send neither a Schnorr proof nor a complaint — caught by `[R3.5]`.
    ReshareSilentConfirm,
    /// Reshare (receiver): acknowledge a different outcome, to everyone — caught by `[R4.1]`.
    ReshareWrongAck,
    /// Reshare (receiver): acknowledge to the even seats and contradict to the odd ones (the
    /// split-view attack on resharing) — caught by the echo, `[R5.1]`.
    ReshareSplitAck,
    /// Reshare: echo one acknowledgement too few — caught by `[R5.2]`.
    ReshareShortEcho,
}
