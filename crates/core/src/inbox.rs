//! Per-round collection of one message from each expected sender.
//!
//! - A sender outside the expected set is blamed (`[W.1]`).
//! - A second, byte-identical copy is rejected but not held against the protocol (transports
//!   retransmit); a second copy with *different* bytes is equivocation and is recorded
//!   (`[W.2]`).
//! - A message that fails its checks is recorded; its slot counts as settled so the round can
//!   finish and abort with every blame collected.

use sha2::{Digest, Sha256};

use crate::{Blame, CheckTag, PartyIndex};

pub const UNEXPECTED_SENDER: CheckTag = CheckTag("[W.1]");
pub const EQUIVOCATION: CheckTag = CheckTag("[W.2]");
pub const DUPLICATE: CheckTag = CheckTag("[W.3]");

#[derive(Clone)]
enum Slot<T> {
    Empty,
    Accepted([u8; 32], T),
    Failed([u8; 32]),
}

/// `Clone` lets tests branch one run at a round's end (see `Reshare::fork_with_behaviour`).
#[derive(Clone)]
pub struct Inbox<T> {
    slots: Vec<(PartyIndex, Slot<T>)>,
    blames: Vec<Blame>,
}

impl<T> std::fmt::Debug for Inbox<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Inbox({}/{} settled, {} blames)",
            self.slots
                .iter()
                .filter(|(_, s)| !matches!(s, Slot::Empty))
                .count(),
            self.slots.len(),
            self.blames.len()
        )
    }
}

impl<T> Inbox<T> {
    /// Expects one message from each of `senders`.
    pub fn new(senders: impl IntoIterator<Item = PartyIndex>) -> Self {
        Self {
            slots: senders.into_iter().map(|p| (p, Slot::Empty)).collect(),
            blames: Vec::new(),
        }
    }

    /// Checks and stores the message `bytes` from `from` with `check`.
    pub fn accept(
        &mut self,
        from: PartyIndex,
        bytes: &[u8],
        check: impl FnOnce() -> Result<T, Blame>,
    ) -> Result<(), Blame> {
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        let Some((_, slot)) = self.slots.iter_mut().find(|(p, _)| *p == from) else {
            // Not recorded: a stranger cannot make a round abort.
            return Err(Blame::new(
                from,
                UNEXPECTED_SENDER,
                "message from a party that is not expected in this round",
            ));
        };
        match slot {
            Slot::Accepted(d, _) | Slot::Failed(d) => {
                if *d == digest {
                    return Err(Blame::new(from, DUPLICATE, "duplicate message ignored"));
                }
                let b = Blame::new(
                    from,
                    EQUIVOCATION,
                    "sent two different messages for the same round",
                );
                self.blames.push(b.clone());
                return Err(b);
            }
            Slot::Empty => {}
        }
        match check() {
            Ok(v) => {
                *slot = Slot::Accepted(digest, v);
                Ok(())
            }
            Err(b) => {
                *slot = Slot::Failed(digest);
                self.blames.push(b.clone());
                Err(b)
            }
        }
    }

    /// Settles `from`'s slot with a failure that happened before the message could be routed
    /// (e.g. its header does not decode). An already settled slot is left as it is.
    pub fn reject(&mut self, from: PartyIndex, bytes: &[u8], b: Blame) {
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        if let Some((_, slot)) = self.slots.iter_mut().find(|(p, _)| *p == from) {
            if matches!(slot, Slot::Empty) {
                *slot = Slot::Failed(digest);
                self.blames.push(b);
            }
        }
    }

    /// Records a blame found later (e.g. while finishing the round) against `party`.
    pub fn blame(&mut self, b: Blame) {
        self.blames.push(b);
    }

    pub fn ready(&self) -> bool {
        self.slots.iter().all(|(_, s)| !matches!(s, Slot::Empty))
    }

    pub fn blames(&self) -> &[Blame] {
        &self.blames
    }

    pub fn take_blames(&mut self) -> Vec<Blame> {
        std::mem::take(&mut self.blames)
    }

    pub fn get(&self, p: PartyIndex) -> Option<&T> {
        self.slots.iter().find_map(|(q, s)| match s {
            Slot::Accepted(_, v) if *q == p => Some(v),
            _ => None,
        })
    }

    /// All accepted messages, in sender order. Only meaningful when there are no blames.
    pub fn into_accepted(self) -> Vec<(PartyIndex, T)> {
        self.slots
            .into_iter()
            .filter_map(|(p, s)| match s {
                Slot::Accepted(_, v) => Some((p, v)),
                _ => None,
            })
            .collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = (PartyIndex, &T)> {
        self.slots.iter().filter_map(|(p, s)| match s {
            Slot::Accepted(_, v) => Some((*p, v)),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_equivocation_and_stranger() {
        let mut ib: Inbox<u8> = Inbox::new([PartyIndex(1), PartyIndex(2)]);
        assert!(!ib.ready());
        ib.accept(PartyIndex(1), b"a", || Ok(1)).unwrap();
        let dup = ib.accept(PartyIndex(1), b"a", || Ok(1)).unwrap_err();
        assert_eq!(dup.check, DUPLICATE);
        assert!(ib.blames().is_empty());
        let eq = ib.accept(PartyIndex(1), b"b", || Ok(2)).unwrap_err();
        assert_eq!(eq.check, EQUIVOCATION);
        assert_eq!(ib.blames().len(), 1);
        let st = ib.accept(PartyIndex(9), b"a", || Ok(1)).unwrap_err();
        assert_eq!(st.check, UNEXPECTED_SENDER);
        let bad = ib
            .accept(PartyIndex(2), b"c", || {
                Err(Blame::new(PartyIndex(2), CheckTag("[X]"), "bad"))
            })
            .unwrap_err();
        assert_eq!(bad.party, PartyIndex(2));
        assert!(ib.ready());
        assert_eq!(ib.blames().len(), 2);
        assert_eq!(ib.get(PartyIndex(1)), Some(&1));
        assert_eq!(ib.get(PartyIndex(2)), None);
    }
}
