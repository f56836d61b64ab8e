//! Opt-in fault injection for the fake platforms: a deterministic plan that answers every
//! `every`-th send call with the next fault of a fixed cycle (a 429, a 500, a stall past the
//! bot's client timeout, a dropped connection), and a listener whose connections a handler can
//! cut without answering. A fake started without a plan behaves exactly as before.
//!
//! Whether a stalled or dropped call was carried out matters: the bot never learns the answer,
//! so it sends again, and where the platform does not deduplicate (Telegram) the customer then
//! sees the message twice. The plan makes this explicit and deterministic: stalls and dropped
//! connections alternate between "carried out, answer lost" (the first of each) and "never
//! carried out". Every send call is recorded with its arrival time and its fault, taken from
//! the fake's own monotonic clock, so a test can check ordering facts after the run.

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use std::net::Shutdown;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Which calls meet which faults.
#[derive(Debug, Clone, Copy)]
pub struct FaultPlan {
    /// Every `every`-th send call meets a fault (10: one call in ten).
    pub every: usize,
    /// What a 429 asks for (Telegram's `retry_after`; VK's error 6 says nothing).
    pub retry_after_secs: u32,
    /// How long a stalled call hangs before the fake answers; longer than the bot's client
    /// timeout, so the bot has given up by then.
    pub stall: Duration,
}

/// The faults, in the order the plan cycles through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// HTTP 429 with `retry_after` (Telegram), error 6 "Too many requests per second" (VK).
    TooManyRequests,
    /// HTTP 500 without a body the bot can use.
    ServerError,
    /// No answer until after the client has timed out.
    Stall,
    /// The connection is closed without any answer.
    DroppedConnection,
}

pub const CYCLE: [FaultKind; 4] =
    [FaultKind::TooManyRequests, FaultKind::ServerError, FaultKind::Stall, FaultKind::DroppedConnection];

/// A fault given to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Injected {
    pub kind: FaultKind,
    /// The platform carried the call out (for a send: the message is shown) although the bot
    /// never got the answer. Only stalls and dropped connections can be; they alternate,
    /// starting with a carried-out one.
    pub applied: bool,
}

/// One send call as the fake saw it.
#[derive(Debug, Clone)]
pub struct SendCall {
    pub method: String,
    /// The chat the call is for (Telegram `chat_id`, VK `peer_id`), when it names one.
    pub chat: Option<i64>,
    pub arrived: Instant,
    pub fault: Option<Injected>,
    /// For a 429 or VK error 6: when the refusal left the fake. The bot's hold starts no
    /// earlier than this.
    pub refused_at: Option<Instant>,
}

/// The plan's state inside a fake: how many send calls it has seen and what it gave them.
#[derive(Debug)]
pub struct Faults {
    plan: FaultPlan,
    seen: usize,
    injected: usize,
    /// How many stalls and dropped connections so far, for the applied/not-applied alternation.
    stalls: usize,
    drops: usize,
    calls: Vec<SendCall>,
}

impl Faults {
    pub fn new(plan: FaultPlan) -> Faults {
        assert!(plan.every >= 1, "a fault every 0th call means nothing");
        Faults { plan, seen: 0, injected: 0, stalls: 0, drops: 0, calls: Vec::new() }
    }

    pub fn plan(&self) -> FaultPlan {
        self.plan
    }

    /// Records a send call and decides its fate; returns the record's index (for
    /// [`refused`](Self::refused)) and the fault, if it meets one.
    pub fn on_send(&mut self, method: &str, chat: Option<i64>) -> (usize, Option<Injected>) {
        self.seen += 1;
        let fault = (self.seen % self.plan.every == 0).then(|| {
            let kind = CYCLE[self.injected % CYCLE.len()];
            self.injected += 1;
            let applied = match kind {
                FaultKind::Stall => {
                    self.stalls += 1;
                    self.stalls % 2 == 1
                }
                FaultKind::DroppedConnection => {
                    self.drops += 1;
                    self.drops % 2 == 1
                }
                FaultKind::TooManyRequests | FaultKind::ServerError => false,
            };
            Injected { kind, applied }
        });
        self.calls.push(SendCall {
            method: method.to_owned(),
            chat,
            arrived: Instant::now(),
            fault,
            refused_at: None,
        });
        (self.calls.len() - 1, fault)
    }

    /// Stamps the moment a 429 (or VK error 6) is answered.
    pub fn refused(&mut self, index: usize) {
        self.calls[index].refused_at = Some(Instant::now());
    }

    pub fn calls(&self) -> Vec<SendCall> {
        self.calls.clone()
    }
}

/// Per chat: every refusal (429, VK error 6) of one of `methods`, followed by a call of one
/// of `methods` for the same chat that arrived before `refused_at + hold`. Empty when every
/// hold was honoured.
pub fn early_retries(calls: &[SendCall], methods: &[&str], hold: Duration) -> Vec<String> {
    let covered = |call: &SendCall| methods.contains(&call.method.as_str());
    let mut early = Vec::new();
    for (index, refusal) in calls.iter().enumerate().filter(|(_, call)| covered(call)) {
        let (Some(chat), Some(refused_at)) = (refusal.chat, refusal.refused_at) else { continue };
        let next = calls[index + 1..].iter().find(|call| covered(call) && call.chat == Some(chat));
        if let Some(next) = next
            && next.arrived < refused_at + hold
        {
            early.push(format!(
                "chat {chat}: {} arrived {:?} after a refused {}, which asked for {hold:?}",
                next.method,
                next.arrived.duration_since(refused_at),
                refusal.method,
            ));
        }
    }
    early
}

/// A TCP listener for `axum::serve` that hands every handler (as
/// `ConnectInfo<Connection>`) a way to cut its own connection.
pub struct CuttableListener(tokio::net::TcpListener);

impl CuttableListener {
    pub fn new(listener: tokio::net::TcpListener) -> CuttableListener {
        CuttableListener(listener)
    }
}

/// One accepted connection: a second handle on the socket with which a handler shuts it down.
/// The client then reads end-of-file where the answer should be.
#[derive(Debug, Clone)]
pub struct Connection {
    socket: Option<Arc<std::net::TcpStream>>,
}

impl Connection {
    /// Closes the connection in both directions without answering.
    pub fn cut(&self) {
        if let Some(socket) = &self.socket {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }
}

impl Listener for CuttableListener {
    type Io = tokio::net::TcpStream;
    type Addr = Connection;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, _peer)) = self.0.accept().await else {
                // Like axum's own listener: a failed accept (out of descriptors) is retried.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            // The same socket twice: tokio's for serving, a duplicate for `cut`.
            let split = stream.into_std().and_then(|std_stream| {
                let handle = std_stream.try_clone()?;
                Ok((tokio::net::TcpStream::from_std(std_stream)?, handle))
            });
            if let Ok((stream, handle)) = split {
                return (stream, Connection { socket: Some(Arc::new(handle)) });
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.0.local_addr().map(|_| Connection { socket: None })
    }
}

impl Connected<IncomingStream<'_, CuttableListener>> for Connection {
    fn connect_info(stream: IncomingStream<'_, CuttableListener>) -> Self {
        stream.remote_addr().clone()
    }
}
