//! Resharing and refresh in one process: dealers and receivers as separate logical parties.

use tessera_core::{PartyIndex, SessionId};
use tessera_ecdsa::{KeyShare, Reshare, ReshareOutput, ReshareStatement, Retirement};

use crate::{collect, deliver_all, run, Seed, SimError};

/// What a resharing produced: the new committee's shares (by new index) and every dealer's
/// retirement (the instruction to erase its old share), by dealer order.
#[derive(Debug)]
pub struct Reshared {
    pub shares: Vec<KeyShare>,
    pub retired: Vec<Retirement>,
}

/// Builds every participant of a resharing: the dealers from their old shares, the receivers
/// from fresh Paillier keys (one per new party, by index).
pub fn participants(
    statement: &ReshareStatement,
    old_shares: &[&KeyShare],
    paillier: Vec<tessera_paillier::SecretKey>,
    sid: SessionId,
    seed: Seed,
) -> Result<Vec<Reshare>, SimError> {
    if paillier.len() != usize::from(statement.new_n) {
        return Err(SimError::Setup(format!(
            "{} Paillier keys for {} new parties",
            paillier.len(),
            statement.new_n
        )));
    }
    let mut rng = seed.rng(b"reshare.setup", 0);
    let mut parties = Vec::new();
    for (j, key) in paillier.into_iter().enumerate() {
        let j = PartyIndex(u16::try_from(j).map_err(|_| SimError::Setup("n′".into()))?);
        parties.push(
            Reshare::receiver(sid, statement.clone(), j, key, &mut rng)
                .map_err(|e| SimError::Protocol(j, e))?,
        );
    }
    for &d in &statement.dealers {
        let share = old_shares
            .iter()
            .find(|s| s.index == d)
            .ok_or_else(|| SimError::Setup(format!("no old share for dealer {d}")))?;
        parties.push(
            Reshare::dealer(sid, statement.clone(), share, &mut rng)
                .map_err(|e| SimError::Protocol(d, e))?,
        );
    }
    Ok(parties)
}

/// Reshares the key of `old_shares` from the `dealers` (old indices) to a `new_threshold`-of-
/// `new_n` committee whose members use `paillier` (one key per new party). Refresh is the
/// case `new_n = n`, `new_threshold = threshold`.
pub fn reshare(
    old_shares: &[&KeyShare],
    dealers: &[PartyIndex],
    new_n: u16,
    new_threshold: u16,
    paillier: Vec<tessera_paillier::SecretKey>,
    seed: Seed,
) -> Result<Reshared, SimError> {
    let any = old_shares
        .first()
        .ok_or_else(|| SimError::Setup("no old shares".into()))?;
    let statement = ReshareStatement::new(any, dealers.to_vec(), new_n, new_threshold)
        .map_err(|e| SimError::Protocol(any.index, e))?;
    let mut rng = seed.rng(b"reshare.sid", 0);
    let sid = SessionId::random(&mut rng);
    let parties = participants(&statement, old_shares, paillier, sid, seed)?;
    let who = statement.participants();
    let (outcomes, _) = run(parties, seed, &mut deliver_all);
    let outputs = collect(outcomes, &who)?;
    let mut shares = Vec::new();
    let mut retired = Vec::new();
    for o in outputs {
        match o {
            ReshareOutput::NewShare(s) => shares.push(*s),
            ReshareOutput::Retire(r) => retired.push(r),
        }
    }
    if shares.iter().any(|s| s.public_key != any.public_key) {
        return Err(SimError::Disagreement("public key"));
    }
    Ok(Reshared { shares, retired })
}
