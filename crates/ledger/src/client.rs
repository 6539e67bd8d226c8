//! A blocking HTTP client for the ledger API (plain HTTP, for nodes and the CLI).

use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::api::{
    ErrorBody, Heartbeat, HeartbeatReceipt, Info, KeyView, LogPage, OperatorView, OperatorsPage,
    Receipt, RequestView,
};
use crate::command::{Entry, Hash32, SignedCommand};

/// Time allowed for a request beyond its long-poll wait.
const SLACK: Duration = Duration::from_secs(10);

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The ledger answered with an error status; `message` is its `error` field.
    #[error("ledger refused ({status}): {message}")]
    Http { status: u16, message: String },
    #[error("cannot reach the ledger at {url}: {message}")]
    Transport { url: String, message: String },
    #[error("unexpected answer from the ledger: {0}")]
    Decode(String),
}

impl ClientError {
    /// The HTTP status, for errors the ledger returned.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A ledger client. Cheap to clone; connections are pooled.
#[derive(Clone, Debug)]
pub struct Client {
    base: String,
    agent: ureq::Agent,
}

impl Client {
    /// `url` like `http://127.0.0.1:7000` (a trailing slash is ignored).
    pub fn new(url: &str) -> Client {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(SLACK))
            .build();
        Client {
            base: url.trim_end_matches('/').to_string(),
            agent: config.into(),
        }
    }

    pub fn url(&self) -> &str {
        &self.base
    }

    fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        wait: Duration,
    ) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        let mut req = self.agent.get(&url);
        for (k, v) in query {
            req = req.query(*k, v);
        }
        let resp = req
            .config()
            .timeout_global(Some(wait + SLACK))
            .build()
            .call();
        self.answer(&url, resp)
    }

    fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        let resp = self.agent.post(&url).send_json(body);
        self.answer(&url, resp)
    }

    fn answer<T: DeserializeOwned>(
        &self,
        url: &str,
        resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<T, ClientError> {
        let mut resp = resp.map_err(|e| ClientError::Transport {
            url: url.to_string(),
            message: e.to_string(),
        })?;
        let status = resp.status().as_u16();
        if status >= 400 {
            let text = resp.body_mut().read_to_string().unwrap_or_default();
            let message = serde_json::from_str::<ErrorBody>(&text)
                .map(|b| b.error)
                .unwrap_or(text);
            return Err(ClientError::Http { status, message });
        }
        resp.body_mut()
            .read_json::<T>()
            .map_err(|e| ClientError::Decode(e.to_string()))
    }

    pub fn info(&self) -> Result<Info, ClientError> {
        self.get("/v1/info", &[], Duration::ZERO)
    }

    /// Submits a signed command; the receipt says where it landed.
    pub fn submit(&self, command: &SignedCommand) -> Result<Receipt, ClientError> {
        self.post("/v1/commands", command)
    }

    /// Up to `limit` entries from seq `from`; if there are none yet, waits up to `wait_ms`
    /// (capped by the server at 30 s) for the next one.
    pub fn log(&self, from: u64, limit: u32, wait_ms: u64) -> Result<Vec<Entry>, ClientError> {
        self.log_page(from, limit, wait_ms, None)
    }

    /// [`Client::log`] for an operator following the log: entries that ask nothing of
    /// `operator` at once may come up to 10 ms later, batched with what follows (the server's
    /// `UNCONCERNED_DELAY`).
    pub fn follow(
        &self,
        from: u64,
        limit: u32,
        wait_ms: u64,
        operator: &tessera_identity::IdentityKey,
    ) -> Result<Vec<Entry>, ClientError> {
        self.log_page(from, limit, wait_ms, Some(operator))
    }

    fn log_page(
        &self,
        from: u64,
        limit: u32,
        wait_ms: u64,
        operator: Option<&tessera_identity::IdentityKey>,
    ) -> Result<Vec<Entry>, ClientError> {
        let mut query = vec![
            ("from", from.to_string()),
            ("limit", limit.to_string()),
            ("wait_ms", wait_ms.to_string()),
        ];
        if let Some(op) = operator {
            query.push(("operator", op.to_string()));
        }
        let page: LogPage = self.get("/v1/log", &query, Duration::from_millis(wait_ms))?;
        Ok(page.entries)
    }

    /// A key or signature request; with `wait_ms > 0` the server holds the answer until the
    /// request is final (active/done/failed) or the wait ends.
    pub fn request(&self, id: &Hash32, wait_ms: u64) -> Result<RequestView, ClientError> {
        self.get(
            &format!("/v1/requests/{id}"),
            &[("wait_ms", wait_ms.to_string())],
            Duration::from_millis(wait_ms),
        )
    }

    /// Every key, signature and admin request.
    pub fn requests(&self) -> Result<Vec<RequestView>, ClientError> {
        let page: crate::api::RequestsPage = self.get("/v1/requests", &[], Duration::ZERO)?;
        Ok(page.requests)
    }

    /// The workspace registry.
    pub fn registry(&self) -> Result<tessera_policy::Registry, ClientError> {
        self.get("/v1/registry", &[], Duration::ZERO)
    }

    pub fn key(&self, id: &Hash32) -> Result<KeyView, ClientError> {
        self.get(&format!("/v1/keys/{id}"), &[], Duration::ZERO)
    }

    pub fn keyring(&self, id: &str) -> Result<crate::api::KeyringView, ClientError> {
        self.get(&format!("/v1/keyrings/{id}"), &[], Duration::ZERO)
    }

    pub fn keyring_change(
        &self,
        id: &Hash32,
    ) -> Result<crate::api::KeyringChangeView, ClientError> {
        self.get(&format!("/v1/keyring-changes/{id}"), &[], Duration::ZERO)
    }

    pub fn heartbeat(&self, heartbeat: &Heartbeat) -> Result<HeartbeatReceipt, ClientError> {
        self.post("/v1/heartbeats", heartbeat)
    }

    pub fn operators(&self) -> Result<Vec<OperatorView>, ClientError> {
        let page: OperatorsPage = self.get("/v1/operators", &[], Duration::ZERO)?;
        Ok(page.operators)
    }
}
