//! Routes inbound frames to the session they belong to, by the session id in the header.
//!
//! A peer can start a session a moment before this node has read the ledger entry that starts
//! it, so frames for an unknown session are held (bounded per session, in number of sessions
//! and in age) and handed over when the session opens. Frames that fail to parse are dropped
//! and counted; they never reach a protocol.

use std::collections::HashMap;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tessera_core::SessionId;

use crate::session::Frame;

/// Bounds on frames held for sessions not yet open.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_pending_sessions: usize,
    pub max_frames_per_session: usize,
    pub max_age: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pending_sessions: 256,
            max_frames_per_session: 512,
            max_age: Duration::from_secs(120),
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    open: HashMap<SessionId, Sender<Frame>>,
    pending: HashMap<SessionId, (Instant, Vec<Frame>)>,
}

/// What happened to one inbound frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routed {
    Delivered,
    Held,
    /// Unparseable, or a bound was reached.
    Dropped,
}

#[derive(Debug, Default)]
pub struct Router {
    inner: Mutex<Inner>,
    limits: Limits,
}

impl Router {
    pub fn new(limits: Limits) -> Self {
        Router {
            inner: Mutex::new(Inner::default()),
            limits,
        }
    }

    /// Opens `sid`: returns its inbox, already holding any frames that arrived early.
    pub fn open(&self, sid: SessionId) -> Receiver<Frame> {
        let (tx, rx) = channel();
        let mut inner = self.lock();
        if let Some((_, held)) = inner.pending.remove(&sid) {
            for f in held {
                let _ = tx.send(f);
            }
        }
        inner.open.insert(sid, tx);
        rx
    }

    /// Closes `sid`; its later frames are dropped once they age out of the pending area.
    pub fn close(&self, sid: &SessionId) {
        self.lock().open.remove(sid);
    }

    pub fn dispatch(&self, frame: Frame) -> Routed {
        let Ok(header) = tessera_core::wire::peek_header(&frame.bytes, usize::MAX) else {
            return Routed::Dropped;
        };
        let sid = header.sid;
        let now = Instant::now();
        let limits = self.limits;
        let mut inner = self.lock();
        if let Some(tx) = inner.open.get(&sid) {
            if tx.send(frame).is_ok() {
                return Routed::Delivered;
            }
            inner.open.remove(&sid);
            return Routed::Dropped;
        }
        inner
            .pending
            .retain(|_, (since, _)| now.duration_since(*since) < limits.max_age);
        if !inner.pending.contains_key(&sid) && inner.pending.len() >= limits.max_pending_sessions {
            return Routed::Dropped;
        }
        let (_, held) = inner
            .pending
            .entry(sid)
            .or_insert_with(|| (now, Vec::new()));
        if held.len() >= limits.max_frames_per_session {
            return Routed::Dropped;
        }
        held.push(frame);
        Routed::Held
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps inconsistent (single inserts and
        // removes), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}
