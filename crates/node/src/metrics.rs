//! Prometheus metrics: sessions by protocol and outcome, failures by cause, presignature pool
//! level, round latencies, ledger entries refused, transport counters.

use std::sync::Mutex;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SessionLabels {
    pub protocol: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    pub protocol: String,
    pub cause: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProtocolLabel {
    pub protocol: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KeyLabel {
    pub key: String,
}

/// A refused ledger entry: its action and why (`governance_not_approved`, `unauthorized`, …).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabels {
    pub action: String,
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NameLabel {
    pub name: String,
}

/// The node's metrics and their registry.
pub struct Metrics {
    registry: Mutex<Registry>,
    pub sessions: Family<SessionLabels, Counter>,
    pub failures: Family<FailureLabels, Counter>,
    pub round_seconds: Family<ProtocolLabel, Histogram>,
    pub pool: Family<KeyLabel, Gauge>,
    pub ledger_entries: Counter,
    pub ledger_rejected: Counter,
    pub ledger_refused: Family<RefusalLabels, Counter>,
    pub frames_dropped: Counter,
    pub transport: Family<NameLabel, Gauge>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tessera");
        let sessions = Family::<SessionLabels, Counter>::default();
        let failures = Family::<FailureLabels, Counter>::default();
        let round_seconds = Family::<ProtocolLabel, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0,
            ])
        });
        let pool = Family::<KeyLabel, Gauge>::default();
        let ledger_entries = Counter::default();
        let ledger_rejected = Counter::default();
        let ledger_refused = Family::<RefusalLabels, Counter>::default();
        let frames_dropped = Counter::default();
        let transport = Family::<NameLabel, Gauge>::default();
        registry.register(
            "sessions",
            "Protocol sessions finished, by protocol and outcome",
            sessions.clone(),
        );
        registry.register(
            "session_failures",
            "Failed sessions by protocol and cause (check tag, timeout, …)",
            failures.clone(),
        );
        registry.register(
            "round_seconds",
            "Protocol round latency, from sending to proceeding",
            round_seconds.clone(),
        );
        registry.register(
            "presignature_pool",
            "Presignatures held, unconsumed, per key",
            pool.clone(),
        );
        registry.register(
            "ledger_entries",
            "Ledger entries verified and applied",
            ledger_entries.clone(),
        );
        registry.register(
            "ledger_entries_rejected",
            "Ledger entries that failed verification and were ignored",
            ledger_rejected.clone(),
        );
        registry.register(
            "ledger_entries_refused",
            "Ledger entries refused, by action and reason (a StartSign without approvals is \
             governance_not_approved)",
            ledger_refused.clone(),
        );
        registry.register(
            "frames_dropped",
            "Inbound protocol frames dropped (unparseable or over the pending bounds)",
            frames_dropped.clone(),
        );
        registry.register(
            "transport",
            "Transport counters (frames, connections, refusals)",
            transport.clone(),
        );
        Metrics {
            registry: Mutex::new(registry),
            sessions,
            failures,
            round_seconds,
            pool,
            ledger_entries,
            ledger_rejected,
            ledger_refused,
            frames_dropped,
            transport,
        }
    }

    /// Counts a refused ledger entry.
    pub fn refused(&self, action: &str, reason: &str) {
        self.ledger_refused
            .get_or_create(&RefusalLabels {
                action: action.into(),
                reason: reason.into(),
            })
            .inc();
    }

    pub fn session(&self, protocol: &str, outcome: &str) {
        self.sessions
            .get_or_create(&SessionLabels {
                protocol: protocol.into(),
                outcome: outcome.into(),
            })
            .inc();
    }

    pub fn failure(&self, protocol: &str, cause: &str) {
        self.failures
            .get_or_create(&FailureLabels {
                protocol: protocol.into(),
                cause: cause.into(),
            })
            .inc();
    }

    pub fn round(&self, protocol: &str, seconds: f64) {
        self.round_seconds
            .get_or_create(&ProtocolLabel {
                protocol: protocol.into(),
            })
            .observe(seconds);
    }

    pub fn set_pool(&self, key: &str, level: usize) {
        self.pool
            .get_or_create(&KeyLabel { key: key.into() })
            .set(i64::try_from(level).unwrap_or(i64::MAX));
    }

    pub fn set_transport(&self, name: &str, value: u64) {
        self.transport
            .get_or_create(&NameLabel { name: name.into() })
            .set(i64::try_from(value).unwrap_or(i64::MAX));
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        if encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }
}
