//! `tessera node` and `tessera ledger`: the two long-running services.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

#[derive(Args, Debug)]
pub struct NodeArgs {
    /// The node's configuration file (TOML; see docs/operations.md).
    #[arg(long)]
    config: PathBuf,
    /// Log format: `text` or `json` (one JSON object per line).
    #[arg(long, default_value = "text")]
    log_format: String,
}

#[derive(Args, Debug)]
pub struct LedgerArgs {
    /// Directory of the ledger's database and identity key.
    #[arg(long)]
    data: PathBuf,
    /// HTTP listen address.
    #[arg(long, default_value = "127.0.0.1:7000")]
    listen: SocketAddr,
    /// Genesis file, applied when the log is empty (see the tessera-ledger README).
    #[arg(long)]
    genesis: Option<PathBuf>,
    /// Presignatures to keep ready per key.
    #[arg(long, default_value_t = 4)]
    pool: u32,
    /// Seconds before an unfinished key generation is aborted and restarted.
    #[arg(long, default_value_t = 300)]
    keygen_timeout: u64,
    /// Seconds before an unfinished resharing session (of a keyring change) is aborted and
    /// restarted.
    #[arg(long, default_value_t = 3600)]
    reshare_timeout: u64,
    /// Seconds before an unfinished presigning session is aborted.
    #[arg(long, default_value_t = 120)]
    presign_timeout: u64,
    /// Seconds from assigning a presignature to a signature request until it is reassigned.
    #[arg(long, default_value_t = 30)]
    sign_timeout: u64,
    /// Log format: `text` or `json`.
    #[arg(long, default_value = "text")]
    log_format: String,
}

/// Structured logs on stderr; `RUST_LOG` filters (default `info`).
pub fn init_logging(format: &str) -> Result<(), String> {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let res = match format {
        "json" => builder.json().try_init(),
        "text" => builder.try_init(),
        other => return Err(format!("--log-format {other:?}: use text or json")),
    };
    res.map_err(|e| e.to_string())
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term => {},
    }
}

pub fn node(args: NodeArgs) -> Result<(), String> {
    init_logging(&args.log_format)?;
    let cfg = tessera_node::NodeConfig::load(&args.config).map_err(|e| e.to_string())?;
    let rt = runtime()?;
    let res = rt.block_on(async move {
        tessera_node::run(cfg, shutdown_signal())
            .await
            .map_err(|e| e.to_string())
    });
    // A session still computing on a blocking thread holds nothing that a restart needs (its
    // journal entry makes the node report it abandoned), so do not wait for it.
    rt.shutdown_timeout(std::time::Duration::from_millis(500));
    res
}

pub fn ledger(args: LedgerArgs) -> Result<(), String> {
    init_logging(&args.log_format)?;
    let mut cfg = tessera_ledger::LedgerConfig::new(args.data, args.listen);
    if let Some(g) = &args.genesis {
        cfg.genesis = Some(tessera_ledger::GenesisFile::load(g)?);
    }
    cfg.scheduler.pool_target = usize::try_from(args.pool).unwrap_or(usize::MAX);
    cfg.scheduler.keygen_timeout = std::time::Duration::from_secs(args.keygen_timeout);
    cfg.scheduler.presign_timeout = std::time::Duration::from_secs(args.presign_timeout);
    cfg.scheduler.reshare_timeout = std::time::Duration::from_secs(args.reshare_timeout);
    cfg.scheduler.sign_timeout = std::time::Duration::from_secs(args.sign_timeout);
    runtime()?.block_on(async move {
        let (ledger, addr) = tessera_ledger::Ledger::bind(cfg)
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(%addr, "ledger listening");
        ledger
            .run(shutdown_signal())
            .await
            .map_err(|e| e.to_string())
    })
}
