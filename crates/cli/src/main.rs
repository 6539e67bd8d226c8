//! `tessera`: the Tessera command line.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod demo;
#[cfg(feature = "malicious")]
mod misbehave;

#[derive(Parser, Debug)]
#[command(
    name = "tessera",
    version,
    about = "Tessera: threshold ECDSA signing network"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Key generation among N operators, presigning and signing with a random M of them, and
    /// verification — all parties in this process.
    Demo(demo::DemoArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => demo::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
