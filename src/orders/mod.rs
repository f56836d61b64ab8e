//! Order lookups: asking a store (or a marketplace) what state one order is in.
//!
//! An [`OrderSource`] answers one question, "what is the state of this order, for this
//! customer?". `http` is the store contract (`docs/order-lookup.md`); `ozon` reads Ozon's postings
//! for buyers in Ozon's chat. [`Sources`] asks the first source that takes a query.
//!
//! Lookups never run inside the engine's write transaction: the dialog asks for one with
//! `Effect::LookupOrder`, the engine stores the request in the same transaction as the step
//! (`order_lookups`), and the [`worker`] carries it out and hands the outcome back to the
//! engine (`Engine::complete_lookup`), which feeds it to the dialog as
//! `Input::OrderLooked`. A crash in between leaves the request stored, and the worker takes
//! it up again after the restart.

pub mod guard;
pub mod http;
pub mod ozon;
pub mod signing;
pub mod worker;

use crate::core::message::Lang;
pub use crate::core::order::{
    LookupOutcome, LookupPurpose, Order, OrderItem, OrderLookup, OrderStatus, Refund, Shipment, Verifier,
    VerifierKind,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Who is asking, on which channel: the contract's `contact`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ContactRef {
    pub channel: String,
    pub id: String,
}

/// A customer the store itself vouched for (a signed identity or a link token): the
/// contract's `customer`. Their orders need no verifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CustomerRef {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// One lookup question.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OrderQuery {
    /// The order number the customer gave; `None` asks for a linked customer's latest order.
    pub order_ref: Option<String>,
    pub verifier: Option<Verifier>,
    pub contact: ContactRef,
    pub customer: Option<CustomerRef>,
    pub locale: Lang,
}

/// A lookup as the engine stores it (`order_lookups.query`): the question, and why the
/// dialog asked it, which the answer is fed back with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredLookup {
    pub purpose: LookupPurpose,
    pub query: OrderQuery,
}

/// Why a source gave no answer. Every variant reaches the customer as "the store cannot be
/// reached right now"; the variants tell the log and the circuit breaker apart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderSourceError {
    /// No answer in time, a refused connection, a 5xx: worth trying again later.
    #[error("the order source is unavailable: {0}")]
    Unavailable(String),
    /// An answer that cannot be trusted or read: unsigned, wrongly signed, stale, malformed.
    #[error("the order source answered something unusable: {0}")]
    BadAnswer(String),
    /// The circuit breaker is open: the source failed repeatedly and is left alone for a while.
    #[error("the order source failed repeatedly and is paused")]
    CircuitOpen,
}

/// Something that can say what state an order is in.
#[async_trait::async_trait]
pub trait OrderSource: Send + Sync {
    /// A short name for logs and metrics (`http`, `ozon`).
    fn name(&self) -> &'static str;

    /// Whether this source answers for `query` (an Ozon source takes posting numbers only).
    /// [`Sources`] asks the first source that does.
    fn accepts(&self, _query: &OrderQuery) -> bool {
        true
    }

    async fn lookup(&self, query: &OrderQuery) -> Result<OrderLookup, OrderSourceError>;
}

/// The configured sources, in order of preference.
#[derive(Clone, Default)]
pub struct Sources {
    sources: Vec<Arc<dyn OrderSource>>,
}

impl Sources {
    pub fn new(sources: Vec<Arc<dyn OrderSource>>) -> Sources {
        Sources { sources }
    }

    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// Asks the first source that accepts the query; `None` when none does.
    pub async fn lookup(&self, query: &OrderQuery) -> Option<Result<OrderLookup, OrderSourceError>> {
        let source = self.sources.iter().find(|source| source.accepts(query))?;
        Some(source.lookup(query).await)
    }
}
