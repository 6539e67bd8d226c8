//! Test keys from the public fixture primes.

use rug::Integer;

const FIXTURE: &str = include_str!("../../../test-data/safe-primes-1536.txt");

/// The `i`-th pair of fixture safe primes.
pub(crate) fn primes(i: usize) -> (Integer, Integer) {
    let v: Vec<Integer> = FIXTURE
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| Integer::from_str_radix(l, 16).expect("hex prime"))
        .collect();
    (v[2 * i].clone(), v[2 * i + 1].clone())
}
