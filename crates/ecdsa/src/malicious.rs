//! Deliberate deviations, for tests of identifiable abort.
//!
//! A [`Behaviour`] can only be given to a protocol through the constructors that exist with the
//! `malicious` cargo feature (`Keygen::new_with_behaviour`, `Presign::new_with_behaviour`);
//! ordinary builds always run [`Behaviour::Honest`].

use tessera_core::PartyIndex;

/// How one party deviates. Each behaviour names the check that must catch it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Behaviour {
    #[default]
    Honest,
    /// Keygen: deal `f(to) + 1` to party `to` — caught by `[K4.1]`.
    KeygenBadShare { to: PartyIndex },
    /// Keygen: complain about a valid share from `against` — caught by `[K4.3]`.
    KeygenFalseAccusation { against: PartyIndex },
    /// Presign: broadcast `δ_i + 1` — leads to type-5 identification, caught by `[T5.4]`.
    PresignWrongDelta,
    /// Presign: use `σ_i + 1` (consistently in `T_i` and `S_i`) — leads to type-7
    /// identification, caught by `[T7.3]`.
    PresignWrongSigma,
}
