//! Ticket writes of one transaction, gathered and written together.
//!
//! Most events that touch a ticket either open one or withdraw the open one. Writing each on
//! its own costs a statement per event, which in a group commit of hundreds of events is most of
//! the transaction's time. The book instead knows every loaded conversation's open ticket (read
//! in one statement per batch), queues inserts and changes, and writes them in a few statements
//! when the transaction ends, or earlier when something must read a ticket's row from the
//! database (a new ticket's id, the queue position).

use crate::core::handoff::TicketStatus;
use crate::store::{Millis, NewTicket, StoreResult, TicketChange, TicketRow, WriteTx};
use std::collections::HashMap;

#[derive(Default)]
pub(super) struct TicketBook {
    /// The open (queued or assigned) ticket of each conversation the book has heard of;
    /// `None`: it has none. Conversations missing here are asked of the store.
    open: HashMap<i64, Option<Open>>,
    inserts: Vec<NewTicket>,
    changes: Vec<(i64, TicketChange)>,
}

enum Open {
    Stored(TicketRow),
    /// Not written yet: the index into `inserts`.
    Pending(usize),
}

impl TicketBook {
    /// Learns the open tickets of these conversations (`found`, read in one statement).
    pub(super) fn know(&mut self, conversations: &[i64], found: Vec<TicketRow>) {
        for &conversation in conversations {
            self.open.entry(conversation).or_insert(None);
        }
        for ticket in found {
            self.open.insert(ticket.conversation_id, Some(Open::Stored(ticket)));
        }
    }

    /// The conversation's open ticket.
    pub(super) async fn open_ticket(
        &mut self,
        tx: &mut dyn WriteTx,
        conversation: i64,
        now: Millis,
    ) -> StoreResult<Option<TicketRow>> {
        if matches!(self.open.get(&conversation), Some(Some(Open::Pending(_)))) {
            // The caller needs its id.
            self.flush(tx, now).await?;
        }
        match self.open.get(&conversation) {
            Some(Some(Open::Stored(ticket))) => Ok(Some(ticket.clone())),
            Some(_) => Ok(None),
            None => {
                let ticket = tx.open_ticket(conversation).await?;
                self.open.insert(conversation, ticket.clone().map(Open::Stored));
                Ok(ticket)
            }
        }
    }

    /// Queues a new ticket; a queued one becomes its conversation's open ticket.
    pub(super) fn insert(&mut self, ticket: NewTicket) {
        if ticket.status == TicketStatus::Queued {
            self.open.insert(ticket.conversation_id, Some(Open::Pending(self.inserts.len())));
        }
        self.inserts.push(ticket);
    }

    /// Queues a change to a stored ticket.
    pub(super) fn change(&mut self, ticket: &TicketRow, change: TicketChange) {
        if change == TicketChange::Withdraw {
            self.open.insert(ticket.conversation_id, None);
        }
        self.changes.push((ticket.id, change));
    }

    /// Hands over everything queued and not written yet, for the transaction's last writes
    /// (`WriteTx::write_batch`); the book is done with them.
    pub(super) fn take_unwritten(&mut self) -> (Vec<NewTicket>, Vec<(i64, TicketChange)>) {
        (std::mem::take(&mut self.inserts), std::mem::take(&mut self.changes))
    }

    /// Writes everything queued. Call before reading tickets from the store.
    pub(super) async fn flush(&mut self, tx: &mut dyn WriteTx, now: Millis) -> StoreResult<()> {
        if !self.inserts.is_empty() {
            let inserts = std::mem::take(&mut self.inserts);
            let ids = tx.insert_tickets(&inserts).await?;
            for (index, (ticket, id)) in inserts.iter().zip(ids).enumerate() {
                tx.attach(id, &ticket.draft.photos, now).await?;
                if let Some(open) = self.open.get_mut(&ticket.conversation_id)
                    && matches!(open, Some(Open::Pending(pending)) if *pending == index)
                {
                    *open = Some(Open::Stored(TicketRow {
                        id,
                        conversation_id: ticket.conversation_id,
                        contact_id: ticket.contact_id,
                        status: ticket.status,
                        assigned_agent: None,
                        priority: ticket.draft.priority,
                        created_at: ticket.at,
                    }));
                }
            }
        }
        if !self.changes.is_empty() {
            let changes = std::mem::take(&mut self.changes);
            tx.update_tickets(&changes, now).await?;
        }
        Ok(())
    }
}
