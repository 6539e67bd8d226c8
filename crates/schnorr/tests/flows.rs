//! In-memory runs of DKG, signing and refresh for both suites, every signature checked by an
//! independent verifier (ed25519-dalek `verify_strict`; k256's BIP340 verifier against the
//! BIP341 output key recomputed here from the internal key), and misbehaviour cases that must
//! blame exactly the cheater with the check's tag.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use k256::elliptic_curve::ops::Reduce;
use k256::elliptic_curve::point::AffineCoordinates;
use k256::elliptic_curve::sec1::ToEncodedPoint;
use sha2::{Digest, Sha256};
use tessera_core::wire::{self, Delivery, Header, ProtocolId};
use tessera_core::{CheckTag, PartyIndex, ProtocolError, SessionId};
use tessera_schnorr::dkg::{FK1_1, FK1_2, FK1_3, FK2_2};
use tessera_schnorr::sign::{FS1_1, FS2_1, FS2_2};
use tessera_schnorr::{
    Bip340, Dkg, Ed25519, KeyShare, KeyType, ShareError, Sign, Signature, Suite, VerifyError,
};
use tessera_sim::{deliver_all, Delivered, Outcome, Seed};

/// What the tests need to know per suite.
trait TestSuite: Suite {
    fn message(i: u64) -> Vec<u8>;
    /// Independent verification of `sig` on `msg` under the share's public key.
    fn verify(share: &KeyShare<Self>, msg: &[u8], sig: &Signature);
    /// Index of the least significant byte of a 32-byte scalar at the end of `len` bytes.
    fn scalar_lsb(len: usize) -> usize;
}

impl TestSuite for Ed25519 {
    fn message(i: u64) -> Vec<u8> {
        // Arbitrary length: Solana signs the raw transaction message.
        format!("solana transaction message #{i} of arbitrary length").into_bytes()
    }

    fn verify(share: &KeyShare<Self>, msg: &[u8], sig: &Signature) {
        let pk: [u8; 32] = share.public_key_bytes().unwrap().try_into().unwrap();
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&pk).unwrap();
        let s = ed25519_dalek::Signature::from_bytes(&sig.0);
        vk.verify_strict(msg, &s)
            .expect("ed25519-dalek verify_strict");
        // And a different message is rejected.
        assert!(vk.verify_strict(b"another message", &s).is_err());
    }

    fn scalar_lsb(len: usize) -> usize {
        len - 32 // little-endian
    }
}

fn tagged_hash(tag: &str, data: &[u8]) -> [u8; 32] {
    let t = Sha256::digest(tag.as_bytes());
    Sha256::new()
        .chain_update(t)
        .chain_update(t)
        .chain_update(data)
        .finalize()
        .into()
}

/// BIP341 key-path output key without a script tree, computed with k256 from the internal key:
/// `Q = P + int(hashTapTweak(x(P)))·G`, `P` taken with even y.
fn bip341_output_key(internal_sec1: &[u8]) -> [u8; 32] {
    let p = k256::PublicKey::from_sec1_bytes(internal_sec1).unwrap();
    let mut point = p.to_projective();
    if bool::from(p.as_affine().y_is_odd()) {
        point = -point;
    }
    let x = point.to_affine().x();
    let t = <k256::Scalar as Reduce<k256::U256>>::reduce_bytes(&tagged_hash("TapTweak", &x).into());
    let q = (point + k256::ProjectivePoint::GENERATOR * t).to_affine();
    let enc = q.to_encoded_point(true);
    let x: [u8; 32] = (*enc.x().unwrap()).into();
    x
}

impl TestSuite for Bip340 {
    fn message(i: u64) -> Vec<u8> {
        // A 32-byte sighash.
        Sha256::digest(format!("taproot sighash {i}")).to_vec()
    }

    fn verify(share: &KeyShare<Self>, msg: &[u8], sig: &Signature) {
        let output = share.public_key_bytes().unwrap();
        let internal = share.internal_key().serialize().unwrap();
        assert_eq!(
            output,
            bip341_output_key(&internal),
            "group key is the BIP341 output key of the internal key"
        );
        let vk = k256::schnorr::VerifyingKey::from_bytes(&output).unwrap();
        let s = k256::schnorr::Signature::try_from(&sig.0[..]).unwrap();
        vk.verify_raw(msg, &s).expect("k256 BIP340 verify");
        // Not valid under the untweaked internal key.
        let internal_x = k256::schnorr::VerifyingKey::from_bytes(&internal[1..]).unwrap();
        assert!(internal_x.verify_raw(msg, &s).is_err());
        assert!(vk.verify_raw(&[0u8; 32], &s).is_err());
    }

    fn scalar_lsb(len: usize) -> usize {
        len - 1 // big-endian
    }
}

fn parties(n: u16) -> Vec<PartyIndex> {
    (0..n).map(PartyIndex).collect()
}

fn sid(seed: u64, label: &[u8]) -> SessionId {
    SessionId([seed as u8; 32]).derive(label)
}

fn dkg_machines<C: Suite>(n: u16, t: u16, sid: SessionId, seed: u64) -> Vec<Dkg<C>> {
    let s = Seed::from_u64(seed);
    parties(n)
        .into_iter()
        .map(|p| Dkg::<C>::new(sid, p, parties(n), t, &mut s.rng(b"dkg", p.0)).unwrap())
        .collect()
}

fn done<O: std::fmt::Debug>(outcomes: Vec<(PartyIndex, Outcome<O>)>) -> Vec<O> {
    outcomes
        .into_iter()
        .map(|(p, o)| match o {
            Outcome::Done(v) => v,
            other => panic!("party {p}: {other:?}"),
        })
        .collect()
}

fn keygen<C: Suite>(n: u16, t: u16, seed: u64) -> Vec<KeyShare<C>> {
    let (out, _) = tessera_sim::run(
        dkg_machines::<C>(n, t, sid(seed, b"keygen"), seed),
        Seed::from_u64(seed),
        &mut deliver_all,
    );
    let shares = done(out);
    for s in &shares {
        assert_eq!(
            s.verifying_key(),
            shares[0].verifying_key(),
            "same group key"
        );
        assert_eq!(s.threshold(), t);
    }
    shares
}

fn sign_machines<C: Suite>(
    shares: &[KeyShare<C>],
    signers: &[PartyIndex],
    msg: &[u8],
    sid: SessionId,
    seed: u64,
) -> Vec<Sign<C>> {
    let s = Seed::from_u64(seed);
    signers
        .iter()
        .map(|p| {
            let share = shares.iter().find(|sh| sh.me() == *p).unwrap();
            Sign::new(
                sid,
                share,
                signers.to_vec(),
                msg.to_vec(),
                &mut s.rng(b"sign", p.0),
            )
            .unwrap()
        })
        .collect()
}

fn sign<C: Suite>(
    shares: &[KeyShare<C>],
    signers: &[PartyIndex],
    msg: &[u8],
    seed: u64,
) -> Signature {
    let machines = sign_machines(shares, signers, msg, sid(seed, b"sign"), seed);
    let (out, _) = tessera_sim::run(machines, Seed::from_u64(seed), &mut deliver_all);
    let sigs = done(out);
    for s in &sigs {
        assert_eq!(s, &sigs[0], "every signer aggregates the same signature");
    }
    sigs[0]
}

fn dkg_and_sign<C: TestSuite>(n: u16, t: u16, seed: u64) {
    let shares = keygen::<C>(n, t, seed);
    // Several signer sets: the first t, the last t, and everyone.
    let sets = [
        parties(t),
        (n - t..n).map(PartyIndex).collect::<Vec<_>>(),
        parties(n),
    ];
    for (i, signers) in sets.iter().enumerate() {
        let msg = C::message(seed * 10 + i as u64);
        let sig = sign(&shares, signers, &msg, seed * 10 + i as u64);
        C::verify(&shares[0], &msg, &sig);
    }
}

#[test]
fn ed25519_dkg_and_sign_2_of_3() {
    dkg_and_sign::<Ed25519>(3, 2, 1);
}

#[test]
fn ed25519_dkg_and_sign_3_of_5() {
    dkg_and_sign::<Ed25519>(5, 3, 2);
}

#[test]
fn bip340_dkg_and_sign_2_of_3() {
    dkg_and_sign::<Bip340>(3, 2, 3);
}

#[test]
fn bip340_dkg_and_sign_3_of_5() {
    dkg_and_sign::<Bip340>(5, 3, 4);
}

/// Re-frames `m` with `f` applied to frost's payload.
fn rewrite(m: &Delivered, f: impl FnOnce(&Header, &mut Vec<u8>)) -> Delivered {
    let (h, mut payload): (Header, Vec<u8>) = postcard::from_bytes(&m.bytes).unwrap();
    f(&h, &mut payload);
    Delivered {
        bytes: wire::encode(&h, &payload).bytes,
        ..m.clone()
    }
}

fn header_of(m: &Delivered) -> Header {
    wire::peek_header(&m.bytes, usize::MAX).unwrap()
}

/// Every honest party in `honest` aborted blaming exactly `cheater` with `tag`.
fn assert_blamed<O: std::fmt::Debug>(
    outcomes: &[(PartyIndex, Outcome<O>)],
    honest: &[PartyIndex],
    cheater: PartyIndex,
    tag: CheckTag,
) {
    for (p, o) in outcomes {
        if !honest.contains(p) {
            continue;
        }
        let e = o
            .error()
            .unwrap_or_else(|| panic!("party {p} did not abort: {o:?}"));
        assert_eq!(e.culprits(), vec![cheater], "party {p}: {e}");
        assert!(
            e.blames().iter().all(|b| b.check == tag),
            "party {p}: expected {tag}, got {e}"
        );
    }
}

fn fs2_2_corrupted_signature_share_blames_sender<C: TestSuite>(seed: u64) {
    let shares = keygen::<C>(5, 3, seed);
    let signers = vec![PartyIndex(0), PartyIndex(2), PartyIndex(4)];
    let cheater = PartyIndex(2);
    let msg = C::message(seed);
    let machines = sign_machines(&shares, &signers, &msg, sid(seed, b"sign"), seed);
    let mut filter = |m: Delivered| {
        let h = header_of(&m);
        if m.from == cheater && h.protocol == ProtocolId::FrostSign && h.round == 2 {
            // A well-formed share, off by a small amount: it decodes but does not verify.
            vec![rewrite(&m, |_, p| {
                let i = C::scalar_lsb(p.len());
                p[i] ^= 0x01;
            })]
        } else {
            vec![m]
        }
    };
    let (out, _) = tessera_sim::run(machines, Seed::from_u64(seed), &mut filter);
    assert_blamed(&out, &[PartyIndex(0), PartyIndex(4)], cheater, FS2_2);
}

#[test]
fn ed25519_fs2_2_corrupted_signature_share_blames_sender() {
    fs2_2_corrupted_signature_share_blames_sender::<Ed25519>(10);
}

#[test]
fn bip340_fs2_2_corrupted_signature_share_blames_sender() {
    fs2_2_corrupted_signature_share_blames_sender::<Bip340>(11);
}

#[test]
fn bip340_fs2_1_undecodable_share_and_fs1_1_bad_commitments_are_blamed() {
    let shares = keygen::<Bip340>(3, 2, 12);
    let signers = vec![PartyIndex(0), PartyIndex(1)];
    let msg = Bip340::message(1);
    for (round, tag) in [(1u16, FS1_1), (2, FS2_1)] {
        let machines = sign_machines(&shares, &signers, &msg, sid(12, b"s"), 12);
        let mut filter = |m: Delivered| {
            let h = header_of(&m);
            if m.from == PartyIndex(1) && h.round == round {
                // All ones: neither a curve point encoding nor a canonical scalar.
                vec![rewrite(&m, |_, p| {
                    let n = p.len();
                    p[n - 32..].fill(0xff);
                })]
            } else {
                vec![m]
            }
        };
        let (out, _) = tessera_sim::run(machines, Seed::from_u64(12), &mut filter);
        assert_blamed(&out, &[PartyIndex(0)], PartyIndex(1), tag);
    }
}

fn fk2_2_corrupted_dkg_share_blames_dealer<C: TestSuite>(seed: u64) {
    let dealer = PartyIndex(1);
    let victim = PartyIndex(2);
    let mut filter = |m: Delivered| {
        let h = header_of(&m);
        if m.from == dealer && m.to == victim && h.round == 2 {
            vec![rewrite(&m, |_, p| {
                let i = C::scalar_lsb(p.len());
                p[i] ^= 0x01;
            })]
        } else {
            vec![m]
        }
    };
    let (out, _) = tessera_sim::run(
        dkg_machines::<C>(3, 2, sid(seed, b"keygen"), seed),
        Seed::from_u64(seed),
        &mut filter,
    );
    assert_blamed(&out, &[victim], dealer, FK2_2);
}

#[test]
fn ed25519_fk2_2_corrupted_dkg_share_blames_dealer() {
    fk2_2_corrupted_dkg_share_blames_dealer::<Ed25519>(20);
}

#[test]
fn bip340_fk2_2_corrupted_dkg_share_blames_dealer() {
    fk2_2_corrupted_dkg_share_blames_dealer::<Bip340>(21);
}

/// Replaces `cheater`'s round-1 package with one frost made for identifier `id_sid`'s
/// derivation and threshold `t`, framed for the running session.
fn replaced_round1<C: TestSuite>(
    cheater: PartyIndex,
    id_sid: SessionId,
    t: u16,
    seed: u64,
) -> Vec<(PartyIndex, Outcome<KeyShare<C>>)> {
    let run_sid = sid(seed, b"keygen");
    let id = tessera_schnorr::common::identifier::<C>(&id_sid, cheater).unwrap();
    let mut rng = Seed::from_u64(seed).rng(b"forged", 0);
    let (_secret, package) = frost_core::keys::dkg::part1::<C, _>(id, 3, t, &mut rng).unwrap();
    let forged = package.serialize().unwrap();
    let mut filter = |m: Delivered| {
        let h = header_of(&m);
        if m.from == cheater && h.round == 1 {
            vec![rewrite(&m, |_, p| *p = forged.clone())]
        } else {
            vec![m]
        }
    };
    let (out, _) = tessera_sim::run(
        dkg_machines::<C>(3, 2, run_sid, seed),
        Seed::from_u64(seed),
        &mut filter,
    );
    out
}

#[test]
fn ed25519_fk1_3_proof_of_knowledge_from_another_session_is_blamed() {
    let cheater = PartyIndex(0);
    let honest = [PartyIndex(1), PartyIndex(2)];
    // Control: a package made for this session's identifier passes round 1; the cheater's
    // round-2 shares (from its real polynomial) then fail the Feldman check instead.
    let ok = replaced_round1::<Ed25519>(cheater, sid(30, b"keygen"), 2, 30);
    assert_blamed(&ok, &honest, cheater, FK2_2);
    // The same package made for another session's identifier fails its proof of knowledge.
    let out = replaced_round1::<Ed25519>(cheater, sid(30, b"another keygen"), 2, 30);
    assert_blamed(&out, &honest, cheater, FK1_3);
}

#[test]
fn bip340_fk1_3_proof_of_knowledge_from_another_session_is_blamed() {
    let out = replaced_round1::<Bip340>(PartyIndex(1), sid(31, b"other"), 2, 31);
    assert_blamed(&out, &[PartyIndex(0), PartyIndex(2)], PartyIndex(1), FK1_3);
}

#[test]
fn ed25519_fk1_2_wrong_number_of_commitments_is_blamed() {
    let out = replaced_round1::<Ed25519>(PartyIndex(2), sid(32, b"keygen"), 3, 32);
    assert_blamed(&out, &[PartyIndex(0), PartyIndex(1)], PartyIndex(2), FK1_2);
}

#[test]
fn bip340_fk1_1_undecodable_round1_package_is_blamed() {
    let mut filter = |m: Delivered| {
        if m.from == PartyIndex(0) && header_of(&m).round == 1 {
            vec![rewrite(&m, |_, p| p.truncate(p.len() / 2))]
        } else {
            vec![m]
        }
    };
    let (out, _) = tessera_sim::run(
        dkg_machines::<Bip340>(3, 2, sid(33, b"keygen"), 33),
        Seed::from_u64(33),
        &mut filter,
    );
    assert_blamed(&out, &[PartyIndex(1), PartyIndex(2)], PartyIndex(0), FK1_1);
}

fn refresh<C: Suite>(shares: Vec<KeyShare<C>>, seed: u64) -> Vec<KeyShare<C>> {
    let s = Seed::from_u64(seed);
    let machines: Vec<Dkg<C>> = shares
        .into_iter()
        .map(|sh| {
            let p = sh.me().0;
            Dkg::refresh(sid(seed, b"refresh"), sh, &mut s.rng(b"refresh", p)).unwrap()
        })
        .collect();
    let (out, _) = tessera_sim::run(machines, s, &mut deliver_all);
    done(out)
}

fn refresh_keeps_the_group_key_and_signs<C: TestSuite>(seed: u64) {
    let shares = keygen::<C>(5, 3, seed);
    let key = shares[0].public_key_bytes().unwrap();
    let old_vs = shares[0].verifying_shares();
    let old_bytes: Vec<_> = shares.iter().map(|s| s.to_bytes().unwrap()).collect();
    let fresh = refresh(shares, seed + 1);
    for s in &fresh {
        assert_eq!(s.public_key_bytes().unwrap(), key, "group key unchanged");
        assert_eq!(s.verifying_shares(), fresh[0].verifying_shares());
    }
    let new_vs = fresh[0].verifying_shares();
    assert!(
        old_vs.iter().all(|(p, v)| new_vs.get(p) != Some(v)),
        "every verifying share changed"
    );
    let signers = vec![PartyIndex(1), PartyIndex(3), PartyIndex(4)];
    let msg = C::message(seed);
    let sig = sign(&fresh, &signers, &msg, seed + 2);
    C::verify(&fresh[0], &msg, &sig);

    // An old share does not combine with new ones: the others blame its signature share.
    let old1 = KeyShare::<C>::from_bytes(&old_bytes[1]).unwrap();
    let mixed: Vec<KeyShare<C>> = fresh
        .into_iter()
        .map(|s| {
            if s.me() == PartyIndex(1) {
                KeyShare::from_bytes(&old_bytes[1]).unwrap()
            } else {
                s
            }
        })
        .collect();
    drop(old1);
    let machines = sign_machines(&mixed, &signers, &msg, sid(seed, b"mixed"), seed + 3);
    let (out, _) = tessera_sim::run(machines, Seed::from_u64(seed + 3), &mut deliver_all);
    assert_blamed(&out, &[PartyIndex(3), PartyIndex(4)], PartyIndex(1), FS2_2);
}

#[test]
fn ed25519_refresh_keeps_the_group_key_and_signs() {
    refresh_keeps_the_group_key_and_signs::<Ed25519>(40);
}

#[test]
fn bip340_refresh_keeps_the_group_key_and_signs() {
    refresh_keeps_the_group_key_and_signs::<Bip340>(41);
}

fn share_bytes_roundtrip_and_tampering<C: TestSuite, Other: Suite>(seed: u64) {
    let shares = keygen::<C>(3, 2, seed);
    let bytes = shares[1].to_bytes().unwrap();
    let back = KeyShare::<C>::from_bytes(&bytes).unwrap();
    assert_eq!(*back.to_bytes().unwrap(), *bytes);
    assert_eq!(
        back.public_key_bytes().unwrap(),
        shares[1].public_key_bytes().unwrap()
    );
    // The restored share signs with the others.
    let restored = vec![shares.into_iter().next().unwrap(), back];
    let msg = C::message(seed);
    let sig = sign(&restored, &[PartyIndex(0), PartyIndex(1)], &msg, seed);
    C::verify(&restored[0], &msg, &sig);

    // Every single-bit change anywhere is rejected.
    for i in 0..bytes.len() {
        for bit in [0x01u8, 0x80] {
            let mut t = bytes.to_vec();
            t[i] ^= bit;
            assert!(
                KeyShare::<C>::from_bytes(&t).is_err(),
                "flip {bit:#x} at byte {i} of {} accepted",
                bytes.len()
            );
        }
    }
    let mut t = bytes.to_vec();
    t.push(0);
    assert!(matches!(
        KeyShare::<C>::from_bytes(&t),
        Err(ShareError::Malformed(_))
    ));
    assert!(matches!(
        KeyShare::<C>::from_bytes(&bytes[..bytes.len() - 1]),
        Err(ShareError::Malformed(_))
    ));
    let mut t = bytes.to_vec();
    t[0] = 9;
    assert_eq!(
        KeyShare::<C>::from_bytes(&t).unwrap_err(),
        ShareError::Version(9)
    );
    assert!(matches!(
        KeyShare::<Other>::from_bytes(&bytes),
        Err(ShareError::Suite { .. })
    ));
}

#[test]
fn ed25519_share_bytes_roundtrip_and_tampering() {
    share_bytes_roundtrip_and_tampering::<Ed25519, Bip340>(50);
}

#[test]
fn bip340_share_bytes_roundtrip_and_tampering() {
    share_bytes_roundtrip_and_tampering::<Bip340, Ed25519>(51);
}

#[test]
fn secrets_are_redacted_and_inputs_checked() {
    let shares = keygen::<Bip340>(3, 2, 60);
    let d = format!("{:?}", shares[0]);
    assert!(d.contains("<redacted>"), "{d}");
    let secret_hex = hex::encode(&shares[0].to_bytes().unwrap()[..]);
    assert!(!secret_hex.contains(&d), "debug output is not the share");
    let mut rng = Seed::from_u64(60).rng(b"x", 0);
    // BIP340 signs 32-byte sighashes only.
    let e = Sign::new(
        sid(60, b"s"),
        &shares[0],
        parties(2),
        vec![0u8; 31],
        &mut rng,
    )
    .unwrap_err();
    assert!(matches!(e, ProtocolError::InvalidInput(_)), "{e}");
    // Fewer signers than the threshold, or a stranger, are refused.
    let e = Sign::new(
        sid(60, b"s"),
        &shares[0],
        vec![PartyIndex(0)],
        vec![0u8; 32],
        &mut rng,
    )
    .unwrap_err();
    assert!(matches!(e, ProtocolError::InvalidInput(_)), "{e}");
    let e = Sign::new(
        sid(60, b"s"),
        &shares[0],
        vec![PartyIndex(0), PartyIndex(7)],
        vec![0u8; 32],
        &mut rng,
    )
    .unwrap_err();
    assert!(matches!(e, ProtocolError::InvalidInput(_)), "{e}");
    // A refresh must not reuse the key's session id.
    let sh = shares.into_iter().next().unwrap();
    let key_sid = sh.key_sid();
    assert!(Dkg::refresh(key_sid, sh, &mut rng).is_err());
}

#[test]
fn ed25519_dkg_and_sign_through_the_echo_wrapper() {
    use tessera_core::echo::Echo;
    let keygen_sid = sid(70, b"keygen");
    let machines: Vec<_> = dkg_machines::<Ed25519>(3, 2, keygen_sid, 70)
        .into_iter()
        .map(|m| Echo::new(m, keygen_sid).unwrap())
        .collect();
    let (out, _) = tessera_sim::run(machines, Seed::from_u64(70), &mut deliver_all);
    let shares = done(out);
    let sign_sid = sid(70, b"sign");
    let msg = Ed25519::message(70);
    let machines: Vec<_> = sign_machines(&shares, &parties(2), &msg, sign_sid, 70)
        .into_iter()
        .map(|m| Echo::new(m, sign_sid).unwrap())
        .collect();
    let (out, _) = tessera_sim::run(machines, Seed::from_u64(71), &mut deliver_all);
    let sigs = done(out);
    Ed25519::verify(&shares[0], &msg, &sigs[0]);
    let _ = Delivery::Broadcast;
}

/// The public verifier the ledger uses agrees with the independent ones on good signatures
/// and rejects a changed signature, message or key, and malformed inputs.
fn public_verifier_accepts_exactly_valid_signatures<C: TestSuite>(kt: KeyType, seed: u64) {
    assert_eq!(KeyType::from_name(C::KEY_TYPE), Some(kt));
    let shares = keygen::<C>(3, 2, seed);
    let pk = shares[0].public_key_bytes().unwrap();
    kt.check_public_key(&pk).unwrap();
    let msg = C::message(seed);
    let sig = sign(&shares, &parties(2), &msg, seed);
    C::verify(&shares[0], &msg, &sig);
    kt.verify(&pk, &msg, &sig.0).unwrap();

    let mut bad = sig.0;
    bad[63] ^= 0x01;
    assert!(kt.verify(&pk, &msg, &bad).is_err());
    let mut bad = sig.0;
    bad[0] ^= 0x01;
    assert!(kt.verify(&pk, &msg, &bad).is_err());
    let mut other_msg = msg.clone();
    other_msg[0] ^= 0x01;
    assert_eq!(
        kt.verify(&pk, &other_msg, &sig.0),
        Err(VerifyError::Invalid)
    );
    let other_key = keygen::<C>(3, 2, seed + 1)[0].public_key_bytes().unwrap();
    assert_eq!(
        kt.verify(&other_key, &msg, &sig.0),
        Err(VerifyError::Invalid)
    );
    assert!(kt.verify(&pk, &msg, &sig.0[..63]).is_err());
    assert!(kt.check_public_key(&pk[..31]).is_err());
    assert!(kt.check_public_key(&[0u8; 32]).is_err());
}

#[test]
fn ed25519_public_verifier_accepts_exactly_valid_signatures() {
    public_verifier_accepts_exactly_valid_signatures::<Ed25519>(KeyType::Ed25519, 80);
}

#[test]
fn bip340_public_verifier_accepts_exactly_valid_signatures() {
    public_verifier_accepts_exactly_valid_signatures::<Bip340>(KeyType::Bip340, 81);
    // BIP340 signs 32-byte sighashes only.
    assert!(matches!(
        KeyType::Bip340.check_message(&[0u8; 33]),
        Err(VerifyError::Message(..))
    ));
    assert_eq!(KeyType::from_name("ecdsa-secp256k1"), None);
}
