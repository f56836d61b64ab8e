//! The group commit's combined calls ([`WriteTx::record_events_at`],
//! [`WriteTx::contacts_and_conversations`], [`WriteTx::open_tickets_and_pending_outbox`],
//! [`WriteTx::write_batch`]) made of the single ones, call by call. SQLite answers them so:
//! its statements run in this process and cost no round trip. PostgreSQL answers each in
//! one statement where it can, and falls back on these where it cannot.

use super::{
    BatchWrites, ContactRow, ContactUpsert, ConversationRow, EventKey, Millis, StoreResult, TicketRow,
    WriteTx,
};
use std::collections::HashMap;

pub(super) async fn record_events_at(
    tx: &mut (impl WriteTx + ?Sized),
    keys: &[EventKey],
    cursors: &[(&str, &str)],
    now: Millis,
) -> StoreResult<Vec<bool>> {
    for (name, position) in cursors {
        tx.set_cursor(name, position, now).await?;
    }
    tx.record_events(keys, now).await
}

pub(super) async fn contacts_and_conversations(
    tx: &mut (impl WriteTx + ?Sized),
    contacts: &[ContactUpsert],
    initial_state: &str,
    now: Millis,
) -> StoreResult<(Vec<ContactRow>, Vec<ConversationRow>)> {
    let contacts = tx.upsert_contacts(contacts, now).await?;
    let ids: Vec<i64> = contacts.iter().map(|contact| contact.id).collect();
    let conversations = tx.load_conversations(&ids, initial_state, now).await?;
    Ok((contacts, conversations))
}

pub(super) async fn open_tickets_and_pending_outbox(
    tx: &mut (impl WriteTx + ?Sized),
    conversation_ids: &[i64],
    pending_of: &[i64],
) -> StoreResult<(Vec<TicketRow>, HashMap<i64, Vec<i64>>)> {
    let tickets = tx.open_tickets(conversation_ids).await?;
    let pending = if pending_of.is_empty() { HashMap::new() } else { tx.pending_outbox(pending_of).await? };
    Ok((tickets, pending))
}

/// New tickets with their photos, then the ticket changes: the part of
/// [`WriteTx::write_batch`] that PostgreSQL writes in one statement only without photos and
/// with withdrawals alone.
pub(super) async fn write_tickets(
    tx: &mut (impl WriteTx + ?Sized),
    batch: &BatchWrites<'_>,
    now: Millis,
) -> StoreResult<()> {
    let ids = tx.insert_tickets(batch.tickets).await?;
    for (ticket, id) in batch.tickets.iter().zip(ids) {
        tx.attach(id, &ticket.draft.photos, now).await?;
    }
    tx.update_tickets(batch.ticket_changes, now).await
}

pub(super) async fn write_batch(
    tx: &mut (impl WriteTx + ?Sized),
    batch: &BatchWrites<'_>,
    now: Millis,
) -> StoreResult<Vec<i64>> {
    write_tickets(tx, batch, now).await?;
    tx.append_messages(batch.messages).await?;
    tx.record_faq_outcomes(batch.faq_outcomes).await?;
    let ids = tx.enqueue(batch.outbox).await?;
    tx.save_conversations(batch.states, now).await?;
    Ok(ids)
}
