//! The statements and rows behind order lookups and linked customers (issue 20).
//!
//! `order_lookups` is to lookups what the outbox is to replies: the request is written in the
//! dialog step's transaction, claimed with a lease by the lookup worker (`crate::orders::worker`)
//! and completed exactly once by the engine (`done_at` is set only where it was unset).
//! Statements read the same in both dialects.

use super::Millis;
use serde::Serialize;

/// A lookup the dialog asked for, as the engine writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOrderLookup {
    pub conversation_id: i64,
    pub contact_id: i64,
    /// The question and why it was asked, as JSON (`crate::orders::StoredLookup`).
    pub query: String,
    pub at: Millis,
}

/// A lookup the worker claimed.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ClaimedLookup {
    pub id: i64,
    pub query: String,
}

/// A lookup the engine completed just now (it was still open).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct CompletedLookup {
    pub conversation_id: i64,
    pub contact_id: i64,
    pub query: String,
}

/// What the engine records when a lookup is answered.
#[derive(Debug, Clone, PartialEq)]
pub struct LookupAnswer<'a> {
    pub id: i64,
    /// `core::order::LookupOutcome` as JSON.
    pub outcome: &'a str,
    /// The found order's id and the order as JSON (`core::order::Order`).
    pub order: Option<(&'a str, &'a str)>,
    pub at: Millis,
}

/// A customer the store vouched for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct CustomerRow {
    pub id: i64,
    /// The store's own id for the customer.
    pub store_id: String,
    pub email: Option<String>,
}

/// A linked customer as an agent sees them on a ticket: who, and every contact of theirs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkedCustomer {
    pub store_id: String,
    pub email: Option<String>,
    pub contacts: Vec<LinkedContact>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct LinkedContact {
    pub channel: String,
    pub external_id: String,
    pub display_name: Option<String>,
}

pub(super) const INSERT_LOOKUP: &str = "INSERT INTO order_lookups (conversation_id, contact_id, query, created_at) \
     VALUES ($1, $2, $3, $4) RETURNING id";

/// Open lookups whose lease is free or ran out, leased to the caller until `$2`. On
/// PostgreSQL two instances may pick the same ids in the subquery; the outer UPDATE re-checks
/// the lease on the locked row, so only one of them gets each.
pub(super) const CLAIM_LOOKUPS: &str = "UPDATE order_lookups SET lease_until = $2, attempts = attempts + 1 \
     WHERE id IN (SELECT id FROM order_lookups WHERE done_at IS NULL \
       AND (lease_until IS NULL OR lease_until <= $1) ORDER BY id LIMIT $3) \
     AND done_at IS NULL AND (lease_until IS NULL OR lease_until <= $1) \
     RETURNING id, query";

pub(super) const COMPLETE_LOOKUP: &str = "UPDATE order_lookups SET done_at = $2, outcome = $3, order_id = $4, \
     order_json = $5, lease_until = NULL WHERE id = $1 AND done_at IS NULL \
     RETURNING conversation_id, contact_id, query";

pub(super) const MARK_LOOKUP_FAILED: &str = "UPDATE order_lookups SET failed = TRUE WHERE id = $1";

pub(super) const FAILED_LOOKUPS_SINCE: &str = "SELECT COUNT(*) AS failures FROM order_lookups WHERE contact_id = $1 AND failed = TRUE AND done_at >= $2";

/// The newest order found in conversation `$1` since `$2`, on its open tickets and on those
/// opened at `$3` (this transaction's).
pub(super) const SNAPSHOT_ORDER_ON_TICKETS: &str = "UPDATE tickets SET order_snapshot = COALESCE(\
     (SELECT l.order_json FROM order_lookups l WHERE l.conversation_id = $1 AND l.order_json IS NOT NULL \
       AND l.done_at >= $2 ORDER BY l.id DESC LIMIT 1), order_snapshot) \
     WHERE conversation_id = $1 AND (status IN ('queued', 'assigned') OR created_at = $3)";

pub(super) const CUSTOMER_OF_CONTACT: &str = "SELECT cu.id, cu.store_id, cu.email FROM customers cu \
     JOIN contacts c ON c.customer_id = cu.id WHERE c.id = $1";

pub(super) const UPSERT_CUSTOMER: &str = "INSERT INTO customers (store_id, email, created_at, updated_at) \
     VALUES ($1, $2, $3, $3) ON CONFLICT (store_id) DO UPDATE SET \
     email = COALESCE(excluded.email, customers.email), updated_at = excluded.updated_at RETURNING id";

pub(super) const LINK_CONTACT: &str = "UPDATE contacts SET customer_id = $2, updated_at = $3 WHERE id = $1";

/// Tokens a day past their expiry: nobody can use them, and nothing refers to them.
pub(super) const FORGET_EXPIRED_TOKENS: &str = "DELETE FROM link_tokens WHERE expires_at < $1";
pub(super) const INSERT_TOKEN: &str =
    "INSERT INTO link_tokens (token_hash, store_id, email, expires_at) VALUES ($1, $2, $3, $4)";
/// Uses token `$1` if it is unused and unexpired at `$2`: once, whoever asks first.
pub(super) const USE_TOKEN: &str = "UPDATE link_tokens SET used_at = $2 \
     WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING store_id, email";

pub(super) const CUSTOMER_OF_TICKET: &str = "SELECT cu.id, cu.store_id, cu.email FROM customers cu \
     JOIN contacts c ON c.customer_id = cu.id JOIN tickets t ON t.contact_id = c.id WHERE t.id = $1";
pub(super) const CONTACTS_OF_CUSTOMER: &str = "SELECT c.channel, c.external_id, c.display_name FROM contacts c \
     JOIN customers cu ON cu.id = c.customer_id WHERE cu.store_id = $1 ORDER BY c.id LIMIT 200";
pub(super) const ORDER_OF_TICKET: &str = "SELECT order_snapshot FROM tickets WHERE id = $1";

pub(super) const UNLINK_CUSTOMER: &str = "UPDATE contacts SET customer_id = NULL \
     WHERE customer_id = (SELECT id FROM customers WHERE store_id = $1)";
pub(super) const DELETE_CUSTOMER: &str = "DELETE FROM customers WHERE store_id = $1";

/// The order statements of one write transaction (a part of [`super::WriteTx`]).
#[async_trait::async_trait]
pub trait OrderTx: Send {
    async fn insert_order_lookup(&mut self, lookup: &NewOrderLookup) -> super::StoreResult<i64>;
    /// Records the answer if the lookup is still open, and returns what it asked; `None` when
    /// it was answered before (a second completion changes nothing).
    async fn complete_order_lookup(
        &mut self,
        answer: &LookupAnswer<'_>,
    ) -> super::StoreResult<Option<CompletedLookup>>;
    async fn mark_lookup_failed(&mut self, id: i64) -> super::StoreResult<()>;
    /// How many of the contact's lookups failed since `since`.
    async fn failed_lookups_since(&mut self, contact_id: i64, since: Millis) -> super::StoreResult<u32>;
    /// Puts the conversation's newest order found since `since` on its open tickets and on
    /// those opened at `now`.
    async fn snapshot_order_on_tickets(
        &mut self,
        conversation_id: i64,
        since: Millis,
        now: Millis,
    ) -> super::StoreResult<()>;
    async fn customer_of_contact(&mut self, contact_id: i64) -> super::StoreResult<Option<CustomerRow>>;
    /// Links the contact to the store's customer `store_id` (made on first sight).
    async fn link_contact(
        &mut self,
        contact_id: i64,
        store_id: &str,
        email: Option<&str>,
        now: Millis,
    ) -> super::StoreResult<i64>;
    /// Uses the link token with this hash, if it is unused and unexpired: the store's
    /// customer id and email it links to. `None`: unknown, used or expired.
    async fn use_link_token(
        &mut self,
        token_hash: &str,
        now: Millis,
    ) -> super::StoreResult<Option<(String, Option<String>)>>;
}

/// Order reads and claims outside the engine's transactions.
#[async_trait::async_trait]
pub trait OrderStore: Send + Sync {
    /// Leases up to `limit` open lookups until `lease_until` for the lookup worker.
    async fn claim_order_lookups(
        &self,
        now: Millis,
        lease_until: Millis,
        limit: i64,
    ) -> super::StoreResult<Vec<ClaimedLookup>>;
    /// The order on ticket `ticket_id` (JSON) and the customer its contact is linked to.
    async fn ticket_order_and_customer(
        &self,
        ticket_id: i64,
    ) -> super::StoreResult<(Option<String>, Option<LinkedCustomer>)>;
    /// Stores a new link token (its hash) for the store's customer, and forgets tokens that
    /// expired a day ago.
    async fn insert_link_token(
        &self,
        token_hash: &str,
        store_id: &str,
        email: Option<&str>,
        expires_at: Millis,
        now: Millis,
    ) -> super::StoreResult<()>;
    /// Every contact linked to the store's customer `store_id`.
    async fn contacts_of_customer(&self, store_id: &str) -> super::StoreResult<Vec<LinkedContact>>;
    /// Unlinks every contact of the customer and forgets the customer; `false` if unknown.
    async fn forget_customer(&self, store_id: &str) -> super::StoreResult<bool>;
}

/// `impl_orders!(StoreType, TxType)`: [`OrderTx`] and [`OrderStore`] for a backend, expanded in
/// its module like `shared::impl_store!` (the statements read alike in both dialects).
macro_rules! impl_orders {
    ($store:ty, $tx:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::OrderTx for $tx {
            async fn insert_order_lookup(
                &mut self,
                lookup: &$crate::store::NewOrderLookup,
            ) -> $crate::store::StoreResult<i64> {
                let id = sqlx::query_scalar($crate::store::orders::INSERT_LOOKUP)
                    .bind(lookup.conversation_id)
                    .bind(lookup.contact_id)
                    .bind(&lookup.query)
                    .bind(lookup.at)
                    .fetch_one(&mut *self.tx)
                    .await?;
                Ok(id)
            }

            async fn complete_order_lookup(
                &mut self,
                answer: &$crate::store::LookupAnswer<'_>,
            ) -> $crate::store::StoreResult<Option<$crate::store::CompletedLookup>> {
                let completed = sqlx::query_as($crate::store::orders::COMPLETE_LOOKUP)
                    .bind(answer.id)
                    .bind(answer.at)
                    .bind(answer.outcome)
                    .bind(answer.order.map(|(id, _)| id))
                    .bind(answer.order.map(|(_, json)| json))
                    .fetch_optional(&mut *self.tx)
                    .await?;
                Ok(completed)
            }

            async fn mark_lookup_failed(&mut self, id: i64) -> $crate::store::StoreResult<()> {
                sqlx::query($crate::store::orders::MARK_LOOKUP_FAILED)
                    .bind(id)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn failed_lookups_since(
                &mut self,
                contact_id: i64,
                since: $crate::store::Millis,
            ) -> $crate::store::StoreResult<u32> {
                let failures: i64 = sqlx::query_scalar($crate::store::orders::FAILED_LOOKUPS_SINCE)
                    .bind(contact_id)
                    .bind(since)
                    .fetch_one(&mut *self.tx)
                    .await?;
                Ok(u32::try_from(failures).unwrap_or(u32::MAX))
            }

            async fn snapshot_order_on_tickets(
                &mut self,
                conversation_id: i64,
                since: $crate::store::Millis,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query($crate::store::orders::SNAPSHOT_ORDER_ON_TICKETS)
                    .bind(conversation_id)
                    .bind(since)
                    .bind(now)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn customer_of_contact(
                &mut self,
                contact_id: i64,
            ) -> $crate::store::StoreResult<Option<$crate::store::CustomerRow>> {
                let query = sqlx::query_as($crate::store::orders::CUSTOMER_OF_CONTACT).bind(contact_id);
                Ok(query.fetch_optional(&mut *self.tx).await?)
            }

            async fn link_contact(
                &mut self,
                contact_id: i64,
                store_id: &str,
                email: Option<&str>,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<i64> {
                let customer: i64 = sqlx::query_scalar($crate::store::orders::UPSERT_CUSTOMER)
                    .bind(store_id)
                    .bind(email)
                    .bind(now)
                    .fetch_one(&mut *self.tx)
                    .await?;
                sqlx::query($crate::store::orders::LINK_CONTACT)
                    .bind(contact_id)
                    .bind(customer)
                    .bind(now)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(customer)
            }

            async fn use_link_token(
                &mut self,
                token_hash: &str,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<Option<(String, Option<String>)>> {
                let query = sqlx::query_as($crate::store::orders::USE_TOKEN).bind(token_hash).bind(now);
                Ok(query.fetch_optional(&mut *self.tx).await?)
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::OrderStore for $store {
            async fn claim_order_lookups(
                &self,
                now: $crate::store::Millis,
                lease_until: $crate::store::Millis,
                limit: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::ClaimedLookup>> {
                let claimed = sqlx::query_as($crate::store::orders::CLAIM_LOOKUPS)
                    .bind(now)
                    .bind(lease_until)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(claimed)
            }

            async fn ticket_order_and_customer(
                &self,
                ticket_id: i64,
            ) -> $crate::store::StoreResult<(Option<String>, Option<$crate::store::LinkedCustomer>)> {
                let query = sqlx::query_scalar($crate::store::orders::ORDER_OF_TICKET).bind(ticket_id);
                let order: Option<Option<String>> = query.fetch_optional(&self.pool).await?;
                let query = sqlx::query_as($crate::store::orders::CUSTOMER_OF_TICKET).bind(ticket_id);
                let customer: Option<$crate::store::CustomerRow> = query.fetch_optional(&self.pool).await?;
                let customer = match customer {
                    None => None,
                    Some($crate::store::CustomerRow { store_id, email, .. }) => {
                        let contacts =
                            <Self as $crate::store::OrderStore>::contacts_of_customer(self, &store_id)
                                .await?;
                        Some($crate::store::LinkedCustomer { store_id, email, contacts })
                    }
                };
                Ok((order.flatten(), customer))
            }

            async fn insert_link_token(
                &self,
                token_hash: &str,
                store_id: &str,
                email: Option<&str>,
                expires_at: $crate::store::Millis,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<()> {
                let day = 24 * 60 * 60 * 1000;
                sqlx::query($crate::store::orders::FORGET_EXPIRED_TOKENS)
                    .bind(now.saturating_sub(day))
                    .execute(&self.pool)
                    .await?;
                sqlx::query($crate::store::orders::INSERT_TOKEN)
                    .bind(token_hash)
                    .bind(store_id)
                    .bind(email)
                    .bind(expires_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn contacts_of_customer(
                &self,
                store_id: &str,
            ) -> $crate::store::StoreResult<Vec<$crate::store::LinkedContact>> {
                let query = sqlx::query_as($crate::store::orders::CONTACTS_OF_CUSTOMER).bind(store_id);
                Ok(query.fetch_all(&self.pool).await?)
            }

            async fn forget_customer(&self, store_id: &str) -> $crate::store::StoreResult<bool> {
                // Unlinked first: a stop in between leaves a customer without contacts, which
                // the next call forgets.
                sqlx::query($crate::store::orders::UNLINK_CUSTOMER)
                    .bind(store_id)
                    .execute(&self.pool)
                    .await?;
                let gone = sqlx::query($crate::store::orders::DELETE_CUSTOMER)
                    .bind(store_id)
                    .execute(&self.pool)
                    .await?;
                Ok(gone.rows_affected() > 0)
            }
        }
    };
}
pub(super) use impl_orders;
