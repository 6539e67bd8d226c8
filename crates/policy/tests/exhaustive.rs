//! Exhaustive checks over small universes, through the public API only.
//!
//! - Every generated policy over approvers a, b, c, d and group g = {c, d} is evaluated on all
//!   16 approver subsets and compared with a reference evaluator written independently here
//!   (bitmasks over the unresolved syntax tree);
//! - monotonicity on every pair S ⊆ T;
//! - the explanation of a pending decision names only people who have not approved, and doing
//!   what it says (first option of each `or`, first `count` of each set) approves;
//! - blocking sets agree with the reference;
//! - canonical printing round-trips for every generated policy and for pseudo-random trees,
//!   and random token soup never panics the parser.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};
use tessera_identity::{Identity, IdentityKey};
use tessera_policy::{
    blocked_by, evaluate, resolve, Decision, Expr, Missing, Name, Need, Policy, Scope,
};

const PEOPLE: [&str; 4] = ["a", "b", "c", "d"];

fn key(name: &str) -> IdentityKey {
    Identity::from_secret_bytes(&Sha256::digest(name.as_bytes()).into()).public()
}

fn name(s: &str) -> Name {
    Name::new(s).unwrap()
}

fn scope() -> Scope {
    Scope {
        approvers: PEOPLE
            .iter()
            .map(|p| (name(p), key(p)))
            .collect::<BTreeMap<_, _>>(),
        groups: [(name("g"), [name("c"), name("d")].into_iter().collect())]
            .into_iter()
            .collect(),
    }
}

/// Bit of each name; a group is the union of its members' bits.
fn bits(n: &Name) -> u32 {
    match n.as_str() {
        "a" => 1,
        "b" => 2,
        "c" => 4,
        "d" => 8,
        "g" => 4 | 8,
        other => panic!("unexpected name {other}"),
    }
}

/// The reference: `None` if resolution must fail, else the verdict for `mask`.
fn reference(e: &Expr, mask: u32) -> Option<bool> {
    match e {
        Expr::Approver(n) if n.as_str() == "g" => None,
        Expr::Approver(n) => Some(mask & bits(n) != 0),
        Expr::Threshold { need, of } => {
            let mut set = 0u32;
            for n in of {
                if set & bits(n) != 0 {
                    return None; // someone twice once groups are expanded
                }
                set |= bits(n);
            }
            let size = set.count_ones();
            let have = (mask & set).count_ones();
            match need {
                Need::All => Some(have == size),
                Need::AtLeast(k) if *k > size => None,
                Need::AtLeast(k) => Some(have >= *k),
            }
        }
        Expr::And(v) => {
            let mut all = true;
            for c in v {
                all &= reference(c, mask)?;
            }
            Some(all)
        }
        Expr::Or(v) => {
            let mut any = false;
            for c in v {
                any |= reference(c, mask)?;
            }
            Some(any)
        }
    }
}

fn keys_of(mask: u32) -> BTreeSet<IdentityKey> {
    // Deriving a public key is a scalar multiplication: do it once per person.
    static KEYS: OnceLock<Vec<IdentityKey>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| PEOPLE.iter().map(|p| key(p)).collect());
    keys.iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, k)| *k)
        .collect()
}

fn mask_of(names: &[Name]) -> u32 {
    names.iter().fold(0, |m, n| m | bits(n))
}

/// Follows an explanation: returns the approvers it says to add.
fn completion(m: &Missing) -> u32 {
    match m {
        Missing::Approver(n) => bits(n),
        Missing::More { count, of } => mask_of(&of[..*count]),
        Missing::All(v) => v.iter().fold(0, |acc, c| acc | completion(c)),
        Missing::Any(v) => completion(&v[0]),
    }
}

fn mentioned(m: &Missing) -> u32 {
    match m {
        Missing::Approver(n) => bits(n),
        Missing::More { of, .. } => mask_of(of),
        Missing::All(v) | Missing::Any(v) => v.iter().fold(0, |acc, c| acc | mentioned(c)),
    }
}

/// Leaves: each approver, and every threshold over every non-empty ordered-by-position subset
/// of {a, b, c, d, g} with every threshold 1..=5 and `all`.
fn leaves() -> Vec<Expr> {
    let items = ["a", "b", "c", "d", "g"];
    let mut out: Vec<Expr> = items.iter().map(|n| Expr::Approver(name(n))).collect();
    for subset in 1u32..32 {
        let of: Vec<Name> = items
            .iter()
            .enumerate()
            .filter(|(i, _)| subset & (1 << i) != 0)
            .map(|(_, n)| name(n))
            .collect();
        for k in 1..=5 {
            out.push(Expr::Threshold {
                need: Need::AtLeast(k),
                of: of.clone(),
            });
        }
        out.push(Expr::Threshold {
            need: Need::All,
            of,
        });
    }
    out
}

fn small_leaves() -> Vec<Expr> {
    [
        "a",
        "b",
        "c",
        "g",
        "1 of {a, b}",
        "2 of {a, g}",
        "all of {b, c}",
        "3 of {a, b, c, d}",
    ]
    .iter()
    .map(|t| Policy::parse(t).unwrap().expr().clone())
    .collect()
}

fn generated() -> Vec<Expr> {
    let mut out = leaves();
    let small = small_leaves();
    for x in &small {
        for y in &small {
            out.push(Expr::And(vec![x.clone(), y.clone()]));
            out.push(Expr::Or(vec![x.clone(), y.clone()]));
            for z in &small {
                out.push(Expr::And(vec![
                    x.clone(),
                    Expr::Or(vec![y.clone(), z.clone()]),
                ]));
                out.push(Expr::Or(vec![
                    x.clone(),
                    Expr::And(vec![y.clone(), z.clone()]),
                ]));
                out.push(Expr::Or(vec![x.clone(), y.clone(), z.clone()]));
            }
        }
    }
    out
}

#[test]
fn evaluation_matches_the_reference_on_every_subset() {
    let scope = scope();
    let (mut resolved, mut refused) = (0, 0);
    for e in generated() {
        let Ok(p) = Policy::new(e.clone()) else {
            // Only sets with a repeated name are malformed here.
            assert!(matches!(&e, Expr::Threshold { .. }), "{e:?}");
            continue;
        };
        let want: Vec<Option<bool>> = (0..16).map(|m| reference(&e, m)).collect();
        let r = match resolve(&p, &scope) {
            Err(err) => {
                assert!(
                    want.iter().all(Option::is_none),
                    "{p}: refused ({err}) but valid"
                );
                refused += 1;
                continue;
            }
            Ok(r) => r,
        };
        resolved += 1;
        for mask in 0u32..16 {
            let got = evaluate(&r, &keys_of(mask));
            assert_eq!(
                Some(got.is_approved()),
                want[mask as usize],
                "{p} on {mask:04b}"
            );
            if let Decision::Pending(m) = &got {
                assert_eq!(
                    mentioned(m) & mask,
                    0,
                    "{p} on {mask:04b}: {m} names an approver"
                );
                let done = mask | completion(m);
                assert!(
                    evaluate(&r, &keys_of(done)).is_approved(),
                    "{p} on {mask:04b}: following `{m}` does not approve"
                );
            }
            // Blocking: refusers R block iff everyone else is not enough.
            let rest = 0b1111 & !mask;
            assert_eq!(
                blocked_by(&r, &keys_of(mask)),
                want[rest as usize] == Some(false),
                "{p} blocked by {mask:04b}"
            );
        }
        // Monotonicity on every S ⊆ T.
        for s in 0u32..16 {
            for t in 0u32..16 {
                if s & t == s && want[s as usize] == Some(true) {
                    assert_eq!(want[t as usize], Some(true), "reference not monotone: {p}");
                    assert!(
                        evaluate(&r, &keys_of(t)).is_approved(),
                        "{p}: {s:04b} ⊆ {t:04b}"
                    );
                }
            }
        }
    }
    assert!(
        resolved > 1000 && refused > 100,
        "{resolved} resolved, {refused} refused"
    );
}

#[test]
fn hand_written_truth_tables() {
    let scope = scope();
    // (policy, bitmask of the subsets (by mask value) that approve)
    let cases: [(&str, u32); 5] = [
        // popcount(mask) >= 2
        ("2 of {a, b, c, d}", 0b1111_1110_1110_1000),
        ("a and b", 0b1000_1000_1000_1000),
        ("a or b", 0b1110_1110_1110_1110),
        // b, and c or d
        ("b and 1 of {g}", 0b1100_1100_1100_0000),
        ("all of {a, g}", 0b1010_0000_0000_0000),
    ];
    for (text, table) in cases {
        let r = resolve(&Policy::parse(text).unwrap(), &scope).unwrap();
        for mask in 0u32..16 {
            assert_eq!(
                evaluate(&r, &keys_of(mask)).is_approved(),
                table & (1 << mask) != 0,
                "{text} on {mask:04b}"
            );
        }
    }
}

#[test]
fn every_generated_policy_round_trips() {
    let mut n = 0;
    for e in generated() {
        if let Ok(p) = Policy::new(e) {
            let text = p.to_string();
            let back = Policy::parse(&text).unwrap();
            assert_eq!(back, p, "{text}");
            assert_eq!(back.to_string(), text);
            n += 1;
        }
    }
    assert!(n > 1800, "{n}");
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn random_expr(rng: &mut Rng, depth: usize) -> Expr {
    let names = ["alice", "bob", "carol", "ops", "x_1", "risk-team"];
    match if depth == 0 {
        rng.below(2)
    } else {
        rng.below(4)
    } {
        0 => Expr::Approver(name(names[rng.below(names.len())])),
        1 => {
            let mut of: Vec<Name> = Vec::new();
            for _ in 0..=rng.below(4) {
                let n = name(names[rng.below(names.len())]);
                if !of.contains(&n) {
                    of.push(n);
                }
            }
            let need = if rng.below(4) == 0 {
                Need::All
            } else {
                Need::AtLeast(1 + rng.below(of.len()) as u32)
            };
            Expr::Threshold { need, of }
        }
        k => {
            let v = (0..2 + rng.below(3))
                .map(|_| random_expr(rng, depth - 1))
                .collect();
            if k == 2 {
                Expr::And(v)
            } else {
                Expr::Or(v)
            }
        }
    }
}

#[test]
fn random_trees_round_trip() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..3000 {
        let depth = rng.below(6);
        let p = Policy::new(random_expr(&mut rng, depth)).unwrap();
        let text = p.to_string();
        assert_eq!(Policy::parse(&text).unwrap(), p, "{text}");
    }
}

#[test]
fn token_soup_never_panics_and_errors_point_inside_the_input() {
    let toks = [
        "a", "b", "ops", "and", "or", "of", "any", "all", "(", ")", "{", "}", ",", "0", "1", "2",
        "300", " ", "\n", "é", "&", "1a",
    ];
    let mut rng = Rng(42);
    let (mut ok, mut bad) = (0, 0);
    for _ in 0..20_000 {
        let text: String = (0..rng.below(12))
            .map(|_| toks[rng.below(toks.len())])
            .collect::<Vec<_>>()
            .join(if rng.below(2) == 0 { " " } else { "" });
        match Policy::parse(&text) {
            Ok(p) => {
                assert_eq!(Policy::parse(&p.to_string()).unwrap(), p, "{text:?}");
                ok += 1;
            }
            Err(e) => {
                let lines: Vec<&str> = text.split('\n').collect();
                assert!(e.line >= 1 && e.line <= lines.len(), "{text:?}: {e}");
                let width = lines[e.line - 1].chars().count();
                assert!(e.column >= 1 && e.column <= width + 1, "{text:?}: {e}");
                bad += 1;
            }
        }
    }
    assert!(ok > 100 && bad > 100, "{ok} parsed, {bad} refused");
}
