//! `tessera`: the Tessera command line.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod chains;
mod client;
mod daemon;
mod demo;
mod devnet;
mod gov;
mod keyring;
#[cfg(feature = "malicious")]
mod misbehave;

#[derive(Parser, Debug)]
#[command(
    name = "tessera",
    version,
    about = "Tessera: threshold ECDSA signing network"
)]
struct Cli {
    #[command(flatten)]
    client: client::ClientOpts,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Key generation among N operators, presigning and signing with a random M of them, and
    /// verification — all parties in this process.
    Demo(demo::DemoArgs),
    /// Runs an operator node (long-running).
    Node(daemon::NodeArgs),
    /// Runs the ledger, the network's coordination service (long-running).
    Ledger(daemon::LedgerArgs),
    /// Starts a whole network on this machine: a ledger and N operator nodes on loopback.
    Devnet(devnet::DevnetArgs),
    /// Keys: `key create`.
    #[command(subcommand)]
    Key(client::KeyCommand),
    /// Keyrings: `keyring change` adds or removes operators and sets the threshold, by
    /// resharing every key of the keyring (same public keys).
    #[command(subcommand)]
    Keyring(keyring::KeyringCommand),
    /// Requests a signature and waits for it.
    Sign(client::SignArgs),
    /// Ethereum: `eth address`, `eth sign-tx`, `eth sign-message` with a network key.
    #[command(subcommand)]
    Eth(chains::EthCommand),
    /// Bitcoin: `btc address`, `btc sign-psbt` with a network key (P2WPKH or P2TR).
    #[command(subcommand)]
    Btc(chains::BtcCommand),
    /// Solana: `sol address`, `sol sign-tx` with a network eddsa-ed25519 key.
    #[command(subcommand)]
    Sol(chains::SolCommand),
    /// Starts a devnet and measures signing latency (warm pool) and sustained throughput.
    Bench(bench::BenchArgs),
    /// Identity keys: `identity new --out FILE`.
    #[command(subcommand)]
    Identity(gov::IdentityCommand),
    /// Workspaces: `workspace create|show|add-key`.
    #[command(subcommand)]
    Workspace(gov::WorkspaceCommand),
    /// Policies: `policy set` proposes a change for the admin policy to approve.
    #[command(subcommand)]
    Policy(gov::PolicyCommand),
    /// Approves (or `--reject`s) a signature request or a proposed change as `--as FILE`.
    Approve(gov::ApproveArgs),
    /// Requests: `request list|show`.
    #[command(subcommand)]
    Request(gov::RequestCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Node(args) => daemon::node(args),
        Command::Ledger(args) => daemon::ledger(args),
        Command::Devnet(args) => devnet::run(args, cli.client.identity.clone()),
        Command::Key(cmd) => client::key(cmd, &cli.client),
        Command::Keyring(cmd) => keyring::run(cmd, &cli.client),
        Command::Sign(args) => client::sign(args, &cli.client),
        Command::Eth(cmd) => chains::eth(cmd, &cli.client),
        Command::Btc(cmd) => chains::btc(cmd, &cli.client),
        Command::Sol(cmd) => chains::sol(cmd, &cli.client),
        Command::Bench(args) => bench::run(args),
        Command::Identity(cmd) => gov::identity(cmd),
        Command::Workspace(cmd) => gov::workspace(cmd, &cli.client),
        Command::Policy(cmd) => gov::policy_cmd(cmd, &cli.client),
        Command::Approve(args) => gov::approve(args, &cli.client),
        Command::Request(cmd) => gov::request(cmd, &cli.client),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
