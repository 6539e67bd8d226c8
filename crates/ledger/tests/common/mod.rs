//! The ledger harness shared by the HTTP tests: fixed identities and a ledger serving on a
//! background runtime.

use tessera_identity::Identity;
use tessera_ledger::state::State;
use tessera_ledger::{Client, Ledger, LedgerConfig};

pub fn id(seed: u8) -> Identity {
    Identity::from_secret_bytes(&[seed; 32])
}

pub fn ledger_id() -> Identity {
    id(1)
}
pub fn owner() -> Identity {
    id(2)
}
pub fn op(i: usize) -> Identity {
    id(10 + i as u8)
}

/// A ledger serving on a background runtime.
pub struct Running {
    rt: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), tessera_ledger::LedgerError>>>,
    pub url: String,
    /// The server's own state right after it opened the log.
    pub initial: State,
}

impl Running {
    pub fn start(config: LedgerConfig) -> Running {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (ledger, addr) = rt.block_on(Ledger::bind(config)).unwrap();
        let initial = ledger.state();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = rt.spawn(ledger.run(async move {
            let _ = rx.await;
        }));
        Running {
            rt,
            stop: Some(tx),
            task: Some(task),
            url: format!("http://{addr}"),
            initial,
        }
    }

    /// The state as a node following this ledger sees it.
    pub fn folded(&self) -> State {
        fold(&self.client())
    }

    pub fn client(&self) -> Client {
        Client::new(&self.url)
    }

    pub fn shutdown(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            self.rt.block_on(task).unwrap().unwrap();
        }
    }
}

/// Fetches the whole log and folds it the way a node does.
pub fn fold(client: &Client) -> State {
    let info = client.info().unwrap();
    let mut state = State::new(info.network, info.ledger_key);
    loop {
        let entries = client.log(state.next_seq(), 100, 0).unwrap();
        if entries.is_empty() {
            return state;
        }
        for e in &entries {
            state.apply(e).unwrap();
        }
    }
}

/// The public shares (hex SEC1 compressed, `x = i + 1` for operator `i`) of a `t`-of-`n`
/// Shamir sharing of the secret `secret` whose other coefficients are 1, 2, …
#[allow(dead_code)]
pub fn public_shares(secret: &[u8; 32], t: u16, n: u16) -> Vec<String> {
    use k256::elliptic_curve::sec1::ToEncodedPoint;
    let sk = k256::ecdsa::SigningKey::from_bytes(&(*secret).into()).unwrap();
    let secret = *sk.as_nonzero_scalar().as_ref();
    (1..=u64::from(n))
        .map(|x| {
            let x = k256::Scalar::from(x);
            let mut y = k256::Scalar::ZERO;
            for k in (1..u64::from(t)).rev() {
                y = (y + k256::Scalar::from(k)) * x;
            }
            y += secret;
            let p = (k256::ProjectivePoint::GENERATOR * y).to_affine();
            hex::encode(p.to_encoded_point(true).as_bytes())
        })
        .collect()
}
