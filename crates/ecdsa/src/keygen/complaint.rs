//! Keygen identification: judging a complaint about a bad share.
//!
//! tofn `keygen/r4/sad.rs`, after GG20 §4.1: the accuser reveals the plaintext and Paillier
//! nonce of the share ciphertext everyone saw in round 3. Everyone re-encrypts:
//! - `[K4.2]` the reveal does not re-encrypt to the broadcast ciphertext → the accuser lied;
//! - `[K4.3]` it does, and the share passes the Feldman check → false accusation;
//! - `[K4.1]` it does, and the share fails the Feldman check → the dealer dealt a bad share.
//!
//! The decision uses only broadcast data, so every honest party reaches the same verdict.

use k256::elliptic_curve::ops::MulByGenerator as _;
use k256::ProjectivePoint;
use tessera_core::{Blame, PartyIndex};
use tessera_paillier::PublicKey;

use super::r3::Dealt;
use super::{blame, feldman_eval, Complaint, Opened, K4_1, K4_2, K4_3};
use crate::common::{group_order, integer_to_scalar};

pub(crate) fn judge(
    accuser: PartyIndex,
    c: &Complaint,
    dealt: &[(PartyIndex, Dealt)],
    opened: &[(PartyIndex, Opened)],
) -> Blame {
    let find_dealt = |p: PartyIndex| dealt.iter().find(|(q, _)| *q == p).map(|(_, d)| d);
    let find_opened = |p: PartyIndex| opened.iter().find(|(q, _)| *q == p).map(|(_, o)| o);
    let (Some(d), Some(dealer_open), Some(accuser_open)) = (
        find_dealt(c.dealer),
        find_opened(c.dealer),
        find_opened(accuser),
    ) else {
        return blame(accuser, K4_3, "complaint names no valid dealer");
    };
    if c.dealer == accuser {
        return blame(accuser, K4_3, "complaint against itself");
    }
    let Some(ct) = d.shares.get(accuser.as_usize()) else {
        return blame(accuser, K4_3, "no ciphertext for the accuser");
    };
    // [K4.2] The revealed plaintext and nonce must re-encrypt to what the dealer broadcast.
    let pk = PublicKey::from_n(accuser_open.rp.n.clone());
    match pk.encrypt_with(&c.plaintext, &c.nonce) {
        Ok(re) if re == *ct => {}
        _ => {
            return blame(
                accuser,
                K4_2,
                format!(
                    "revealed share for dealer {} does not re-encrypt to the broadcast ciphertext",
                    c.dealer
                ),
            )
        }
    }
    // [K4.3] / [K4.1] Feldman check of the revealed share.
    let in_range = c.plaintext >= 0 && c.plaintext < group_order();
    if in_range {
        let s = integer_to_scalar(&c.plaintext);
        if ProjectivePoint::mul_by_generator(&s) == feldman_eval(&dealer_open.coeffs, accuser) {
            return blame(
                accuser,
                K4_3,
                format!("false accusation: the share from {} is valid", c.dealer),
            );
        }
    }
    blame(
        c.dealer,
        K4_1,
        format!(
            "share dealt to party {accuser} fails the Feldman check (revealed by the receiver)"
        ),
    )
}
