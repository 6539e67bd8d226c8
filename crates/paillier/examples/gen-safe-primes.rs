//! Prints safe primes, one hex per line, for the test fixture.
//!
//! `cargo run --release -p tessera-paillier --example gen-safe-primes -- --bits 1536 --count 20`

use std::time::Instant;

use rand_core::OsRng;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let get = |name: &str, default: u32| -> Result<u32, Box<dyn std::error::Error>> {
        match args.iter().position(|a| a == name) {
            Some(i) => Ok(args.get(i + 1).ok_or("missing value")?.parse()?),
            None => Ok(default),
        }
    };
    let bits = get("--bits", 1536)?;
    let count = get("--count", 20)?;
    println!("# {count} safe primes of {bits} bits (PUBLIC: for tests only).");
    println!(
        "# cargo run --release -p tessera-paillier --example gen-safe-primes -- --bits {bits} --count {count}"
    );
    let start = Instant::now();
    for i in 0..count {
        let t = Instant::now();
        let p = tessera_paillier::prime::generate_safe_prime(&mut OsRng, bits);
        println!("{}", p.to_string_radix(16));
        eprintln!(
            "prime {}/{count}: {:.2} s",
            i + 1,
            t.elapsed().as_secs_f64()
        );
    }
    eprintln!(
        "average {:.2} s per prime",
        start.elapsed().as_secs_f64() / f64::from(count.max(1))
    );
    Ok(())
}
