//! The code both backends run alike, written once.
//!
//! [`impl_store!`] expands, in a backend's module, to that backend's implementations of
//! [`Store`](super::Store), [`WriteTx`](super::WriteTx), [`AccountStore`](super::AccountStore),
//! [`ConsoleStore`](super::ConsoleStore) and [`PrivacyStore`](super::PrivacyStore). A macro
//! rather than a generic over `sqlx::Database`: each expansion is type-checked against its own
//! pool and row types, without the bounds a generic would need on every function. Statements
//! both dialects read alike come from `sql`; the few that differ come from the backend's own
//! `dialect` module, and what only one backend does (batch writes, outbox claims, locking,
//! connections) stays in an inherent method of its store or transaction type, which the
//! expansion calls by the trait method's name.
//!
//! The expansion expects in scope: `MIGRATOR`, a module `dialect` with the dialect-specific
//! statements, `RowExt`, and a store type with a `pool` field and a transaction type with a
//! `tx` field.

/// `impl_store!(StoreType, TxType, sqlx database type, Backend variant)`; see the module
/// documentation.
macro_rules! impl_store {
    ($store:ty, $tx:ty, $db:ty, $backend:expr) => {
        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            fn backend(&self) -> $crate::store::Backend {
                $backend
            }

            async fn migrate(&self) -> $crate::store::StoreResult<()> {
                MIGRATOR.run(&self.pool).await?;
                Ok(())
            }

            async fn migrations_applied(&self) -> $crate::store::StoreResult<bool> {
                let applied: Vec<i64> =
                    sqlx::query_scalar($crate::store::sql::APPLIED_MIGRATIONS).fetch_all(&self.pool).await?;
                Ok($crate::store::all_applied(&MIGRATOR, &applied))
            }

            async fn begin(&self) -> $crate::store::StoreResult<Box<dyn $crate::store::WriteTx>> {
                <$store>::begin(self).await
            }

            async fn writer_for_this_runtime(
                &self,
            ) -> $crate::store::StoreResult<Option<Box<dyn $crate::store::Store>>> {
                <$store>::writer_for_this_runtime(self).await
            }

            async fn contact(
                &self,
                channel: &str,
                external_id: &str,
            ) -> $crate::store::StoreResult<Option<$crate::store::ContactRow>> {
                let row = sqlx::query($crate::store::sql::CONTACT_BY_KEY)
                    .bind(channel)
                    .bind(external_id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map($crate::store::rows::contact).transpose()
            }

            async fn latest_ticket_id(&self, conversation_id: i64) -> $crate::store::StoreResult<Option<i64>> {
                let id: Option<i64> = sqlx::query_scalar($crate::store::sql::LATEST_TICKET_ID)
                    .bind(conversation_id)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(id)
            }

            async fn conversation_of_contact(
                &self,
                contact_id: i64,
            ) -> $crate::store::StoreResult<Option<$crate::store::ConversationRow>> {
                let row = sqlx::query($crate::store::sql::CONVERSATION_OF_CONTACT)
                    .bind(contact_id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map($crate::store::rows::conversation).transpose()
            }

            async fn list_tickets(
                &self,
                status: Option<$crate::core::handoff::TicketStatus>,
                page: $crate::store::Page,
            ) -> $crate::store::StoreResult<Vec<$crate::store::TicketSummary>> {
                self.list_tickets_in_languages(status, None, page).await
            }

            async fn list_tickets_in_languages(
                &self,
                status: Option<$crate::core::handoff::TicketStatus>,
                languages: Option<&[$crate::core::message::Lang]>,
                page: $crate::store::Page,
            ) -> $crate::store::StoreResult<Vec<$crate::store::TicketSummary>> {
                use $crate::store::{StoreResult, rows, sql};
                let code = status.map($crate::core::handoff::TicketStatus::code);
                let languages = languages.map($crate::store::language_codes);
                let found = sqlx::query(sql::TICKET_SUMMARIES)
                    .bind(code)
                    .bind(page.limit)
                    .bind(page.offset)
                    .bind(languages.as_deref())
                    .fetch_all(&self.pool)
                    .await?;
                let mut tickets = found.iter().map(rows::ticket_summary).collect::<StoreResult<Vec<_>>>()?;
                let attachments = sqlx::query(sql::ATTACHMENTS_OF_PAGE)
                    .bind(code)
                    .bind(page.limit)
                    .bind(page.offset)
                    .bind(languages.as_deref())
                    .fetch_all(&self.pool)
                    .await?;
                let attachments = attachments.iter().map(rows::attachment).collect::<StoreResult<Vec<_>>>()?;
                rows::attach_to_summaries(&mut tickets, attachments);
                Ok(tickets)
            }

            async fn queued_in_languages(
                &self,
                languages: Option<&[$crate::core::message::Lang]>,
            ) -> $crate::store::StoreResult<u32> {
                let languages = languages.map($crate::store::language_codes);
                let row = sqlx::query($crate::store::sql::QUEUED_IN_LANGUAGES)
                    .bind(languages.as_deref())
                    .fetch_one(&self.pool)
                    .await?;
                Ok(u32::try_from(row.int("waiting")?).unwrap_or(u32::MAX))
            }

            async fn ticket(
                &self,
                ticket_id: i64,
            ) -> $crate::store::StoreResult<Option<$crate::store::TicketDetail>> {
                use $crate::store::{StoreResult, TicketDetail, rows, sql};
                let Some(row) =
                    sqlx::query(sql::TICKET_SUMMARY_BY_ID).bind(ticket_id).fetch_optional(&self.pool).await?
                else {
                    return Ok(None);
                };
                let mut ticket = rows::ticket_summary(&row)?;
                let attachments =
                    sqlx::query(sql::ATTACHMENTS_OF_TICKET).bind(ticket_id).fetch_all(&self.pool).await?;
                ticket.attachments = attachments
                    .iter()
                    .map(|row| rows::attachment(row).map(|(_, media)| media))
                    .collect::<StoreResult<Vec<_>>>()?;
                let messages =
                    <Self as $crate::store::Store>::transcript(self, ticket.conversation_id).await?;
                let notes = sqlx::query(sql::NOTES_OF_TICKET).bind(ticket_id).fetch_all(&self.pool).await?;
                let notes = notes.iter().map(rows::note).collect::<StoreResult<Vec<_>>>()?;
                let (order, customer) =
                    <Self as $crate::store::OrderStore>::ticket_order_and_customer(self, ticket_id).await?;
                // A snapshot that no longer reads (an older shape) is left out rather than failing the page.
                let order = order.and_then(|json| serde_json::from_str(&json).ok());
                Ok(Some(TicketDetail { ticket, messages, notes, order, customer }))
            }

            async fn transcript(
                &self,
                conversation_id: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::TranscriptEntry>> {
                let found = sqlx::query($crate::store::sql::TRANSCRIPT)
                    .bind(conversation_id)
                    .fetch_all(&self.pool)
                    .await?;
                found.iter().map($crate::store::rows::transcript_entry).collect()
            }

            async fn dead_letters(
                &self,
                limit: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::DeadLetter>> {
                let found =
                    sqlx::query($crate::store::sql::DEAD_LETTERS).bind(limit).fetch_all(&self.pool).await?;
                found.iter().map($crate::store::rows::dead_letter).collect()
            }

            async fn queue_overview(&self) -> $crate::store::StoreResult<$crate::store::QueueOverview> {
                let mut conn = self.pool.acquire().await?;
                queue_overview(&mut conn).await
            }

            async fn tickets_ahead(&self, ticket_id: i64) -> $crate::store::StoreResult<Option<u32>> {
                let row = sqlx::query($crate::store::sql::TICKETS_AHEAD_OF_TICKET)
                    .bind(ticket_id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(|row| row.int("ahead")).transpose()?.map($crate::store::count_u32))
            }

            async fn cursor(&self, name: &str) -> $crate::store::StoreResult<Option<String>> {
                let row = sqlx::query($crate::store::sql::CURSOR).bind(name).fetch_optional(&self.pool).await?;
                row.map(|row| row.text("value")).transpose()
            }

            async fn set_cursor(
                &self,
                name: &str,
                value: &str,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<()> {
                <$store>::set_cursor(self, name, value, now).await
            }

            async fn claim_outbox(
                &self,
                channels: &[&'static str],
                now: $crate::store::Millis,
                lease: std::time::Duration,
                limit: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::OutboxJob>> {
                let until = now.saturating_add($crate::store::duration_millis(lease));
                <$store>::claim_until(self, channels, None, now, until, limit).await
            }

            async fn claim_outbox_of_contact(
                &self,
                channel: &'static str,
                external_id: &str,
                now: $crate::store::Millis,
                lease: std::time::Duration,
                limit: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::OutboxJob>> {
                let until = now.saturating_add($crate::store::duration_millis(lease));
                <$store>::claim_until(self, &[channel], Some(external_id), now, until, limit).await
            }

            async fn finish_outbox(
                &self,
                outcomes: &[($crate::store::OutboxJob, $crate::store::DeliveryOutcome)],
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<()> {
                if outcomes.is_empty() {
                    return Ok(());
                }
                let sent: Vec<i64> = outcomes
                    .iter()
                    .filter(|(_, outcome)| *outcome == $crate::store::DeliveryOutcome::Sent)
                    .map(|(job, _)| job.id)
                    .collect();
                // The usual case, many times a second: everything went out.
                if sent.len() == outcomes.len() {
                    return <$store>::mark_sent(self, &sent, now).await;
                }
                <$store>::finish_mixed(self, &sent, outcomes, now).await
            }

            async fn outbox_row(&self, id: i64) -> $crate::store::StoreResult<Option<$crate::store::OutboxRow>> {
                let row = sqlx::query($crate::store::sql::OUTBOX_ROW).bind(id).fetch_optional(&self.pool).await?;
                row.as_ref().map($crate::store::rows::outbox_row).transpose()
            }

            async fn outbox_of_conversation(
                &self,
                conversation_id: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::OutboxRow>> {
                let found = sqlx::query($crate::store::sql::OUTBOX_OF_CONVERSATION)
                    .bind(conversation_id)
                    .fetch_all(&self.pool)
                    .await?;
                found.iter().map($crate::store::rows::outbox_row).collect()
            }

            async fn pending_outbox(&self) -> $crate::store::StoreResult<i64> {
                let row = sqlx::query($crate::store::sql::PENDING_OUTBOX).fetch_one(&self.pool).await?;
                row.int("pending")
            }

            async fn release_abandoned_leases(&self) -> $crate::store::StoreResult<u64> {
                <$store>::release_abandoned_leases(self).await
            }

            async fn listen_for_outbox(
                &self,
                wake: std::sync::Arc<tokio::sync::Notify>,
            ) -> $crate::store::StoreResult<()> {
                <$store>::listen_for_outbox(self, wake).await
            }

            async fn try_lead(&self, name: &str) -> $crate::store::StoreResult<Option<$crate::store::Leadership>> {
                <$store>::try_lead(self, name).await
            }

            async fn close(&self) {
                <$store>::close(self).await
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::WriteTx for $tx {
            async fn record_events(
                &mut self,
                keys: &[$crate::store::EventKey],
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<Vec<bool>> {
                <$tx>::record_events(self, keys, now).await
            }

            async fn record_events_at(
                &mut self,
                keys: &[$crate::store::EventKey],
                cursors: &[(&str, &str)],
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<Vec<bool>> {
                <$tx>::record_events_at(self, keys, cursors, now).await
            }

            async fn contacts_and_conversations(
                &mut self,
                contacts: &[$crate::store::ContactUpsert],
                initial_state: &str,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<(Vec<$crate::store::ContactRow>, Vec<$crate::store::ConversationRow>)> {
                <$tx>::contacts_and_conversations(self, contacts, initial_state, now).await
            }

            async fn open_tickets_and_pending_outbox(
                &mut self,
                conversation_ids: &[i64],
                pending_of: &[i64],
            ) -> $crate::store::StoreResult<(
                Vec<$crate::store::TicketRow>,
                std::collections::HashMap<i64, Vec<i64>>,
            )> {
                <$tx>::open_tickets_and_pending_outbox(self, conversation_ids, pending_of).await
            }

            async fn write_batch(
                &mut self,
                batch: &$crate::store::BatchWrites<'_>,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<Vec<i64>> {
                <$tx>::write_batch(self, batch, now).await
            }

            async fn upsert_contacts(
                &mut self,
                contacts: &[$crate::store::ContactUpsert],
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<Vec<$crate::store::ContactRow>> {
                if contacts.is_empty() {
                    return Ok(Vec::new());
                }
                // Read first and write only what is new or changed (see `contacts_to_write`).
                let mut known: std::collections::HashMap<(String, String), $crate::store::ContactRow> =
                    <$tx>::find_contacts(self, contacts).await?.into_iter().map(|row| (row.key(), row)).collect();
                let writes = $crate::store::contacts_to_write(contacts, &known);
                if !writes.is_empty() {
                    for row in <$tx>::write_contacts(self, &writes, now).await? {
                        known.insert(row.key(), row);
                    }
                }
                Ok(known.into_values().collect())
            }

            async fn load_conversations(
                &mut self,
                contact_ids: &[i64],
                initial_state: &str,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<Vec<$crate::store::ConversationRow>> {
                if contact_ids.is_empty() {
                    return Ok(Vec::new());
                }
                // Load (on PostgreSQL: and lock) first: creating only the missing ones spares a
                // statement in the usual case.
                let mut loaded = <$tx>::conversations_of(self, contact_ids).await?;
                if loaded.len() == contact_ids.len() {
                    return Ok(loaded);
                }
                let have: std::collections::HashSet<i64> = loaded.iter().map(|row| row.contact_id).collect();
                let missing: Vec<i64> = contact_ids.iter().copied().filter(|id| !have.contains(id)).collect();
                <$tx>::create_conversations(self, &missing, initial_state, now).await?;
                loaded.extend(<$tx>::conversations_of(self, &missing).await?);
                Ok(loaded)
            }

            async fn conversation_for_update(
                &mut self,
                conversation_id: i64,
            ) -> $crate::store::StoreResult<Option<($crate::store::ConversationRow, $crate::store::ContactRow)>>
            {
                use $crate::store::{rows, sql};
                let Some(row) = sqlx::query(dialect::CONVERSATION_FOR_UPDATE)
                    .bind(conversation_id)
                    .fetch_optional(&mut *self.tx)
                    .await?
                else {
                    return Ok(None);
                };
                let conversation = rows::conversation(&row)?;
                let contact =
                    sqlx::query(sql::CONTACT_BY_ID).bind(conversation.contact_id).fetch_one(&mut *self.tx).await?;
                Ok(Some((conversation, rows::contact(&contact)?)))
            }

            async fn save_conversations(
                &mut self,
                updates: &[$crate::store::ConversationUpdate],
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<()> {
                if updates.is_empty() {
                    return Ok(());
                }
                if <$tx>::write_states(self, updates, now).await? != updates.len() as u64 {
                    return Err($crate::store::StoreError::Conflict);
                }
                Ok(())
            }

            async fn append_messages(&mut self, messages: &[$crate::store::NewMessage]) -> $crate::store::StoreResult<()> {
                <$tx>::append_messages(self, messages).await
            }

            async fn set_cursor(
                &mut self,
                name: &str,
                value: &str,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query($crate::store::sql::SET_CURSOR)
                    .bind(name)
                    .bind(value)
                    .bind(now)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn enqueue(&mut self, rows: &[$crate::store::NewOutbox]) -> $crate::store::StoreResult<Vec<i64>> {
                <$tx>::enqueue(self, rows).await
            }

            async fn pending_outbox(
                &mut self,
                conversation_ids: &[i64],
            ) -> $crate::store::StoreResult<std::collections::HashMap<i64, Vec<i64>>> {
                <$tx>::pending_outbox(self, conversation_ids).await
            }

            async fn queue_overview(&mut self) -> $crate::store::StoreResult<$crate::store::QueueOverview> {
                queue_overview(&mut self.tx).await
            }

            async fn tickets_ahead_of_conversation(
                &mut self,
                conversation_id: i64,
            ) -> $crate::store::StoreResult<Option<u32>> {
                let row = sqlx::query($crate::store::sql::TICKETS_AHEAD_OF_CONVERSATION)
                    .bind(conversation_id)
                    .fetch_optional(&mut *self.tx)
                    .await?;
                Ok(row.map(|row| row.int("ahead")).transpose()?.map($crate::store::count_u32))
            }

            async fn open_ticket(
                &mut self,
                conversation_id: i64,
            ) -> $crate::store::StoreResult<Option<$crate::store::TicketRow>> {
                let row = sqlx::query($crate::store::sql::OPEN_TICKET)
                    .bind(conversation_id)
                    .fetch_optional(&mut *self.tx)
                    .await?;
                row.as_ref().map($crate::store::rows::ticket).transpose()
            }

            async fn open_tickets(
                &mut self,
                conversation_ids: &[i64],
            ) -> $crate::store::StoreResult<Vec<$crate::store::TicketRow>> {
                <$tx>::open_tickets(self, conversation_ids).await
            }

            async fn latest_resolved_ticket(&mut self, conversation_id: i64) -> $crate::store::StoreResult<Option<i64>> {
                let row = sqlx::query($crate::store::sql::LATEST_RESOLVED_TICKET)
                    .bind(conversation_id)
                    .fetch_optional(&mut *self.tx)
                    .await?;
                row.map(|row| row.int("id")).transpose()
            }

            async fn ticket_for_update(
                &mut self,
                ticket_id: i64,
            ) -> $crate::store::StoreResult<Option<$crate::store::TicketRow>> {
                <$tx>::ticket_for_update(self, ticket_id).await
            }

            async fn insert_ticket(&mut self, ticket: &$crate::store::NewTicket) -> $crate::store::StoreResult<i64> {
                let draft = &ticket.draft;
                let resolved =
                    (ticket.status == $crate::core::handoff::TicketStatus::Resolved).then_some(ticket.at);
                let row = sqlx::query($crate::store::sql::INSERT_TICKET)
                    .bind(ticket.conversation_id)
                    .bind(ticket.contact_id)
                    .bind(ticket.status.code())
                    .bind(draft.issue.code())
                    .bind(draft.order_id.as_ref().map(|id| id.as_str().to_owned()))
                    .bind(draft.priority.code())
                    .bind($crate::store::priority_rank(draft.priority))
                    .bind(draft.description.as_deref())
                    .bind(ticket.lang.code())
                    .bind(ticket.self_served)
                    .bind(ticket.at)
                    .bind(resolved)
                    .fetch_one(&mut *self.tx)
                    .await?;
                row.int("id")
            }

            async fn insert_tickets(
                &mut self,
                tickets: &[$crate::store::NewTicket],
            ) -> $crate::store::StoreResult<Vec<i64>> {
                <$tx>::insert_tickets(self, tickets).await
            }

            async fn attach(
                &mut self,
                ticket_id: i64,
                media: &[$crate::core::message::MediaRef],
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<()> {
                <$tx>::attach(self, ticket_id, media, now).await
            }

            async fn update_ticket(
                &mut self,
                ticket_id: i64,
                change: &$crate::store::TicketChange,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<()> {
                use $crate::store::{TicketChange, sql};
                let query = match change {
                    TicketChange::Assign { agent } => {
                        sqlx::query(sql::TICKET_ASSIGN).bind(ticket_id).bind(agent).bind(now)
                    }
                    TicketChange::Release => sqlx::query(sql::TICKET_RELEASE).bind(ticket_id).bind(now),
                    TicketChange::Resolve => sqlx::query(sql::TICKET_RESOLVE).bind(ticket_id).bind(now),
                    TicketChange::Reopen { agent } => {
                        sqlx::query(sql::TICKET_REOPEN).bind(ticket_id).bind(agent).bind(now)
                    }
                    TicketChange::Withdraw => sqlx::query(sql::TICKET_WITHDRAW).bind(ticket_id).bind(now),
                    TicketChange::Rate { stars } => {
                        sqlx::query(sql::TICKET_RATE).bind(ticket_id).bind(i64::from(*stars)).bind(now)
                    }
                    TicketChange::Comment { comment } => {
                        sqlx::query(sql::TICKET_COMMENT).bind(ticket_id).bind(comment).bind(now)
                    }
                    TicketChange::AgentReplied => {
                        sqlx::query(sql::TICKET_AGENT_REPLIED).bind(ticket_id).bind(now)
                    }
                    TicketChange::Reminded => sqlx::query(sql::TICKET_REMINDED).bind(ticket_id).bind(now),
                };
                query.execute(&mut *self.tx).await?;
                Ok(())
            }

            async fn update_tickets(
                &mut self,
                changes: &[(i64, $crate::store::TicketChange)],
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<()> {
                // Withdrawals are the common change on the inbound path: one statement for all
                // of them.
                let Some($crate::store::SplitChanges { withdrawn, others }) =
                    $crate::store::split_withdrawals(changes)
                else {
                    for (id, change) in changes {
                        <Self as $crate::store::WriteTx>::update_ticket(self, *id, change, now).await?;
                    }
                    return Ok(());
                };
                if !withdrawn.is_empty() {
                    <$tx>::withdraw_tickets(self, &withdrawn, now).await?;
                }
                for (id, change) in others {
                    <Self as $crate::store::WriteTx>::update_ticket(self, *id, change, now).await?;
                }
                Ok(())
            }

            async fn add_note(
                &mut self,
                ticket_id: i64,
                agent: &str,
                text: &str,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<i64> {
                let row = sqlx::query($crate::store::sql::INSERT_NOTE)
                    .bind(ticket_id)
                    .bind(agent)
                    .bind(text)
                    .bind(now)
                    .fetch_one(&mut *self.tx)
                    .await?;
                row.int("id")
            }

            async fn tickets_due_reminder(
                &mut self,
                waiting_since: $crate::store::Millis,
                reminded_before: $crate::store::Millis,
                limit: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::TicketRow>> {
                let found = sqlx::query($crate::store::sql::TICKETS_DUE_REMINDER)
                    .bind(waiting_since)
                    .bind(reminded_before)
                    .bind(limit)
                    .fetch_all(&mut *self.tx)
                    .await?;
                found.iter().map($crate::store::rows::ticket).collect()
            }

            async fn set_contact_language(
                &mut self,
                contact_id: i64,
                lang: $crate::core::message::Lang,
                chosen: bool,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query($crate::store::sql::SET_CONTACT_LANGUAGE)
                    .bind(contact_id)
                    .bind(lang.code())
                    .bind(chosen)
                    .bind(now)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn set_contact_reachable(
                &mut self,
                contact_id: i64,
                reachable: bool,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query($crate::store::sql::SET_CONTACT_REACHABLE)
                    .bind(contact_id)
                    .bind(reachable)
                    .bind(now)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn record_faq_outcomes(
                &mut self,
                outcomes: &[$crate::store::FaqOutcomeRow],
            ) -> $crate::store::StoreResult<()> {
                <$tx>::record_faq_outcomes(self, outcomes).await
            }

            async fn record_feedback(
                &mut self,
                conversation_id: i64,
                text: &str,
                lang: $crate::core::message::Lang,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query($crate::store::sql::INSERT_FEEDBACK)
                    .bind(conversation_id)
                    .bind(text)
                    .bind(lang.code())
                    .bind(now)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn erase_contact(
                &mut self,
                channel: &str,
                external_id: &str,
                initial_state: &str,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<Option<$crate::store::ErasedContact>> {
                use $crate::store::{ErasedContact, StoreResult, sql};
                let found = sqlx::query(dialect::CONTACT_TO_ERASE)
                    .bind(channel)
                    .bind(external_id)
                    .fetch_optional(&mut *self.tx)
                    .await?;
                let Some(found) = found else { return Ok(None) };
                let contact_id = found.int("id")?;
                let documents =
                    sqlx::query(dialect::THEIR_DOCUMENTS).bind(contact_id).fetch_all(&mut *self.tx).await?;
                let photos =
                    sqlx::query(sql::THEIR_TICKET_PHOTOS).bind(contact_id).fetch_all(&mut *self.tx).await?;
                let mut erased = ErasedContact {
                    contact_id,
                    their_documents: documents.iter().map(|row| row.text("refs")).collect::<StoreResult<_>>()?,
                    their_ticket_photos: photos.iter().map(|row| row.text("refs")).collect::<StoreResult<_>>()?,
                    ..ErasedContact::default()
                };
                for statement in [sql::ERASE_EVENTS_IN_LOG, sql::ERASE_EVENTS_BY_PREFIX] {
                    erased.rows.processed_events +=
                        sqlx::query(statement).bind(contact_id).execute(&mut *self.tx).await?.rows_affected();
                }
                for (statement, count) in [
                    (sql::ERASE_MESSAGES, &mut erased.rows.messages),
                    (sql::ERASE_OUTBOX, &mut erased.rows.outbox_rows),
                    (sql::ERASE_FEEDBACK, &mut erased.rows.feedback),
                    (sql::ERASE_TICKET_PHOTOS, &mut erased.rows.ticket_attachments),
                    (sql::ERASE_NOTES, &mut erased.rows.ticket_notes),
                    (sql::ERASE_ORDER_LOOKUPS, &mut erased.rows.order_lookups),
                ] {
                    *count = sqlx::query(statement).bind(contact_id).execute(&mut *self.tx).await?.rows_affected();
                }
                for (statement, count) in [
                    (sql::CLOSE_OPEN_TICKETS, &mut erased.rows.tickets_closed),
                    (sql::ANONYMISE_TICKETS, &mut erased.rows.tickets_anonymised),
                ] {
                    *count = sqlx::query(statement)
                        .bind(contact_id)
                        .bind(now)
                        .execute(&mut *self.tx)
                        .await?
                        .rows_affected();
                }
                // The version moves on, so a transaction of another instance that loaded the
                // old state cannot save over it.
                sqlx::query(dialect::RESET_CONVERSATION)
                    .bind(contact_id)
                    .bind(initial_state)
                    .bind(now)
                    .execute(&mut *self.tx)
                    .await?;
                sqlx::query(sql::ANONYMISE_CONTACT).bind(contact_id).bind(now).execute(&mut *self.tx).await?;
                // Read after the deletes: exactly what remains once this commits.
                let remaining = sqlx::query(dialect::REFERENCED_MEDIA).fetch_all(&mut *self.tx).await?;
                erased.remaining = remaining.iter().map(|row| row.text("refs")).collect::<StoreResult<_>>()?;
                Ok(Some(erased))
            }

            async fn reset_idle_conversations(
                &mut self,
                idle_before: $crate::store::Millis,
                initial_state: &str,
                limit: i64,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<u64> {
                Ok(sqlx::query(dialect::RESET_IDLE_CONVERSATIONS)
                    .bind(idle_before)
                    .bind(initial_state)
                    .bind(now)
                    .bind(limit)
                    .execute(&mut *self.tx)
                    .await?
                    .rows_affected())
            }

            async fn commit(self: Box<Self>) -> $crate::store::StoreResult<()> {
                <$tx>::commit(self).await
            }

            fn round_trips(&self) -> u64 {
                self.tx.count()
            }

            fn commit_round_trips(&self) -> u64 {
                <$tx>::commit_round_trips(self)
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::AccountStore for $store {
            async fn insert_agent(
                &self,
                agent: $crate::store::NewAgent<'_>,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<Option<i64>> {
                let row = sqlx::query($crate::store::sql::INSERT_AGENT)
                    .bind(agent.name)
                    .bind(agent.password_hash)
                    .bind(agent.role.code())
                    .bind(agent.must_change_password)
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|row| row.int("id")).transpose()
            }

            async fn agents(&self) -> $crate::store::StoreResult<Vec<$crate::store::Agent>> {
                let found = sqlx::query($crate::store::sql::AGENTS).fetch_all(&self.pool).await?;
                found.iter().map($crate::store::rows::agent).collect()
            }

            async fn agent_count(&self) -> $crate::store::StoreResult<i64> {
                sqlx::query($crate::store::sql::AGENT_COUNT).fetch_one(&self.pool).await?.int("agents")
            }

            async fn agent_by_name(&self, name: &str) -> $crate::store::StoreResult<Option<$crate::store::Agent>> {
                let row =
                    sqlx::query($crate::store::sql::AGENT_BY_NAME).bind(name).fetch_optional(&self.pool).await?;
                row.as_ref().map($crate::store::rows::agent).transpose()
            }

            async fn agent_with_password_hash(
                &self,
                name: &str,
            ) -> $crate::store::StoreResult<Option<($crate::store::Agent, String)>> {
                let row = sqlx::query($crate::store::sql::AGENT_WITH_PASSWORD)
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?;
                let Some(row) = row else { return Ok(None) };
                Ok(Some(($crate::store::rows::agent(&row)?, row.text("password_hash")?)))
            }

            async fn disable_agent(&self, name: &str) -> $crate::store::StoreResult<bool> {
                use $crate::store::sql;
                let row = sqlx::query(sql::DISABLE_AGENT).bind(name).fetch_optional(&self.pool).await?;
                let Some(id) = row.map(|row| row.int("id")).transpose()? else { return Ok(false) };
                sqlx::query(sql::END_SESSIONS_OF_AGENT).bind(id).execute(&self.pool).await?;
                sqlx::query(sql::REVOKE_TOKENS_OF_AGENT).bind(id).execute(&self.pool).await?;
                Ok(true)
            }

            async fn set_agent_profile(
                &self,
                name: &str,
                display_name: Option<&str>,
                photo_sha256: Option<&str>,
            ) -> $crate::store::StoreResult<bool> {
                let done = sqlx::query($crate::store::sql::SET_AGENT_PROFILE)
                    .bind(display_name)
                    .bind(photo_sha256)
                    .bind(name)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn set_agent_languages(
                &self,
                name: &str,
                console_lang: Option<$crate::core::message::Lang>,
                languages: &[$crate::core::message::Lang],
            ) -> $crate::store::StoreResult<bool> {
                let done = sqlx::query($crate::store::sql::SET_AGENT_LANGUAGES)
                    .bind(console_lang.map(|lang| lang.code()))
                    .bind($crate::store::language_codes(languages))
                    .bind(name)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn is_agent_photo(&self, sha256: &str) -> $crate::store::StoreResult<bool> {
                sqlx::query($crate::store::sql::IS_AGENT_PHOTO).bind(sha256).fetch_one(&self.pool).await?.flag("found")
            }

            async fn enable_agent(&self, name: &str) -> $crate::store::StoreResult<bool> {
                let done = sqlx::query($crate::store::sql::ENABLE_AGENT).bind(name).execute(&self.pool).await?;
                Ok(done.rows_affected() > 0)
            }

            async fn set_password_hash(
                &self,
                change: $crate::store::PasswordChange<'_>,
            ) -> $crate::store::StoreResult<bool> {
                use $crate::store::sql;
                let mut tx = self.pool.begin().await?;
                let row = sqlx::query(sql::SET_PASSWORD)
                    .bind(change.password_hash)
                    .bind(change.must_change_password)
                    .bind(change.name)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(id) = row.map(|row| row.int("id")).transpose()? else { return Ok(false) };
                sqlx::query(sql::END_OTHER_SESSIONS_OF_AGENT)
                    .bind(id)
                    .bind(change.keep_session)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn insert_session(
                &self,
                session: $crate::store::NewSession<'_>,
            ) -> $crate::store::StoreResult<()> {
                use $crate::store::sql;
                sqlx::query(sql::DELETE_EXPIRED_SESSIONS).bind(session.created_at).execute(&self.pool).await?;
                sqlx::query(sql::INSERT_SESSION)
                    .bind(session.token_hash)
                    .bind(session.agent_id)
                    .bind(session.csrf)
                    .bind(session.created_at)
                    .bind(session.expires_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn session(
                &self,
                token_hash: &str,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<Option<$crate::store::SessionRow>> {
                let row = sqlx::query($crate::store::sql::SESSION)
                    .bind(token_hash)
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await?;
                let Some(row) = row else { return Ok(None) };
                let agent = $crate::store::rows::agent(&row)?;
                Ok(Some($crate::store::SessionRow { agent, csrf: row.text("csrf_token")? }))
            }

            async fn delete_session(&self, token_hash: &str) -> $crate::store::StoreResult<()> {
                sqlx::query($crate::store::sql::DELETE_SESSION).bind(token_hash).execute(&self.pool).await?;
                Ok(())
            }

            async fn insert_api_token(
                &self,
                name: &str,
                token_hash: &str,
                agent_id: i64,
                now: $crate::store::Millis,
                expires_at: Option<$crate::store::Millis>,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query($crate::store::sql::INSERT_API_TOKEN)
                    .bind(name)
                    .bind(token_hash)
                    .bind(agent_id)
                    .bind(now)
                    .bind(expires_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn api_tokens(&self) -> $crate::store::StoreResult<Vec<$crate::store::ApiToken>> {
                let found = sqlx::query($crate::store::sql::API_TOKENS).fetch_all(&self.pool).await?;
                found
                    .iter()
                    .map(|row| {
                        Ok($crate::store::ApiToken {
                            id: row.int("id")?,
                            name: row.text("name")?,
                            agent: row.text("agent")?,
                            revoked: row.flag("revoked")?,
                            created_at: row.int("created_at")?,
                            last_used_at: row.opt_int("last_used_at")?,
                            expires_at: row.opt_int("expires_at")?,
                        })
                    })
                    .collect()
            }

            async fn revoke_api_token(&self, id: i64) -> $crate::store::StoreResult<bool> {
                let done = sqlx::query($crate::store::sql::REVOKE_API_TOKEN).bind(id).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn agent_for_token_hash(
                &self,
                token_hash: &str,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<Option<$crate::store::Agent>> {
                use $crate::store::sql;
                let row =
                    sqlx::query(sql::AGENT_FOR_TOKEN).bind(token_hash).bind(now).fetch_optional(&self.pool).await?;
                let Some(row) = row else { return Ok(None) };
                sqlx::query(sql::TOKEN_USED).bind(now).bind(token_hash).execute(&self.pool).await?;
                $crate::store::rows::agent(&row).map(Some)
            }

            async fn server_secret(
                &self,
                name: &str,
                candidate: &str,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<String> {
                use $crate::store::sql;
                sqlx::query(sql::INSERT_SERVER_SECRET)
                    .bind(name)
                    .bind(candidate)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                sqlx::query(sql::SERVER_SECRET).bind(name).fetch_one(&self.pool).await?.text("value")
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::ConsoleStore for $store {
            async fn log_after(
                &self,
                conversation_id: i64,
                after: i64,
                limit: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::LogEntry>> {
                let found = sqlx::query($crate::store::sql::LOG_AFTER)
                    .bind(conversation_id)
                    .bind(after)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                found.iter().map($crate::store::rows::log_entry).collect()
            }

            async fn contact_log_after(
                &self,
                channel: &str,
                external_id: &str,
                after: i64,
                limit: i64,
            ) -> $crate::store::StoreResult<$crate::store::ContactLog> {
                use $crate::store::{ContactLog, StoreResult, rows, sql};
                let lang = sqlx::query(sql::CONTACT_LANG)
                    .bind(channel)
                    .bind(external_id)
                    .fetch_optional(&self.pool)
                    .await?;
                let Some(lang) = lang else { return Ok(ContactLog { lang: None, messages: Vec::new() }) };
                let lang = $crate::core::message::Lang::from_code(&lang.text("lang")?);
                if limit <= 0 {
                    return Ok(ContactLog { lang, messages: Vec::new() });
                }
                let found = sqlx::query(sql::CONTACT_LOG_AFTER)
                    .bind(channel)
                    .bind(external_id)
                    .bind(after)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                let messages = found.iter().map(rows::log_entry).collect::<StoreResult<_>>()?;
                Ok(ContactLog { lang, messages })
            }

            async fn last_bot_message(
                &self,
                channel: &str,
                external_id: &str,
            ) -> $crate::store::StoreResult<Option<$crate::store::LogEntry>> {
                let found = sqlx::query($crate::store::sql::LAST_BOT_MESSAGE_OF_CONTACT)
                    .bind(channel)
                    .bind(external_id)
                    .fetch_optional(&self.pool)
                    .await?;
                found.as_ref().map($crate::store::rows::log_entry).transpose()
            }

            async fn media_is_known(&self, sha256: &str) -> $crate::store::StoreResult<bool> {
                let on_ticket = sqlx::query($crate::store::sql::MEDIA_ON_TICKETS)
                    .bind(sha256)
                    .fetch_one(&self.pool)
                    .await?
                    .flag("found")?;
                if on_ticket {
                    return Ok(true);
                }
                sqlx::query(dialect::MEDIA_IN_MESSAGES)
                    .bind(format!("\"{sha256}\""))
                    .fetch_one(&self.pool)
                    .await?
                    .flag("found")
            }

            async fn contact_has_media(
                &self,
                channel: &str,
                external_id: &str,
                sha256: &str,
            ) -> $crate::store::StoreResult<bool> {
                sqlx::query(dialect::CONTACT_HAS_MEDIA)
                    .bind(channel)
                    .bind(external_id)
                    .bind(format!("\"{sha256}\""))
                    .fetch_one(&self.pool)
                    .await?
                    .flag("found")
            }

            async fn ticket_status(&self, ticket_id: i64) -> $crate::store::StoreResult<Option<String>> {
                let row = sqlx::query($crate::store::sql::TICKET_STATUS)
                    .bind(ticket_id)
                    .fetch_optional(&self.pool)
                    .await?;
                let Some(row) = row else { return Ok(None) };
                let status = row.text("status")?;
                let agent = row.opt_text("assigned_agent")?;
                Ok(Some(format!("{status}|{}", agent.unwrap_or_default())))
            }

            async fn change_marker(&self) -> $crate::store::StoreResult<$crate::store::ChangeMarker> {
                let row = sqlx::query($crate::store::sql::CHANGE_MARKER).fetch_one(&self.pool).await?;
                Ok($crate::store::ChangeMarker {
                    last_message: row.int("last_message")?,
                    last_ticket_update: row.int("last_ticket_update")?,
                    last_ticket: row.int("last_ticket")?,
                })
            }

            async fn ticket_times(
                &self,
                since: $crate::store::Millis,
            ) -> $crate::store::StoreResult<Vec<$crate::store::TicketTimes>> {
                let found = sqlx::query($crate::store::sql::TICKET_TIMES).bind(since).fetch_all(&self.pool).await?;
                found
                    .iter()
                    .map(|row| {
                        Ok($crate::store::TicketTimes {
                            created_at: row.int("created_at")?,
                            first_agent_reply_at: row.opt_int("first_agent_reply_at")?,
                            resolved_at: row.opt_int("resolved_at")?,
                            rating: row.opt_int("rating")?,
                            self_served: row.flag("self_served")?,
                            withdrawn: row.flag("withdrawn")?,
                        })
                    })
                    .collect()
            }

            async fn faq_verdicts(
                &self,
                since: $crate::store::Millis,
            ) -> $crate::store::StoreResult<Vec<$crate::store::FaqVerdict>> {
                let found = sqlx::query($crate::store::sql::FAQ_VERDICTS).bind(since).fetch_all(&self.pool).await?;
                found
                    .iter()
                    .map(|row| Ok($crate::store::FaqVerdict { at: row.int("created_at")?, helped: row.flag("helped")? }))
                    .collect()
            }

            async fn canned_replies(
                &self,
                lang: Option<$crate::core::message::Lang>,
            ) -> $crate::store::StoreResult<Vec<$crate::store::CannedReply>> {
                use $crate::store::sql;
                let found = match lang {
                    Some(lang) => {
                        sqlx::query(sql::CANNED_REPLIES_OF_LANG).bind(lang.code()).fetch_all(&self.pool).await?
                    }
                    None => sqlx::query(sql::CANNED_REPLIES).fetch_all(&self.pool).await?,
                };
                found
                    .iter()
                    .map(|row| {
                        Ok($crate::store::CannedReply {
                            id: row.int("id")?,
                            lang: row.text("lang")?,
                            title: row.text("title")?,
                            body: row.text("body")?,
                            set_id: row.int("set_id")?,
                        })
                    })
                    .collect()
            }

            async fn create_canned_reply(
                &self,
                lang: $crate::core::message::Lang,
                title: &str,
                body: &str,
                set: Option<i64>,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<Option<i64>> {
                sqlx::query($crate::store::sql::INSERT_CANNED_REPLY)
                    .bind(lang.code())
                    .bind(title)
                    .bind(body)
                    .bind(now)
                    .bind(set)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(|row| row.int("id"))
                    .transpose()
            }

            async fn update_canned_reply(
                &self,
                id: i64,
                lang: $crate::core::message::Lang,
                title: &str,
                body: &str,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<bool> {
                let done = sqlx::query($crate::store::sql::UPDATE_CANNED_REPLY)
                    .bind(lang.code())
                    .bind(title)
                    .bind(body)
                    .bind(now)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_canned_reply(&self, id: i64) -> $crate::store::StoreResult<bool> {
                let done =
                    sqlx::query($crate::store::sql::DELETE_CANNED_REPLY).bind(id).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn translations(
                &self,
                conversation_id: i64,
                lang: $crate::core::message::Lang,
            ) -> $crate::store::StoreResult<std::collections::HashMap<i64, String>> {
                let found = sqlx::query($crate::store::sql::TRANSLATIONS_OF_CONVERSATION)
                    .bind(conversation_id)
                    .bind(lang.code())
                    .fetch_all(&self.pool)
                    .await?;
                found.iter().map(|row| Ok((row.int("message_id")?, row.text("text")?))).collect()
            }

            async fn save_translation(
                &self,
                message_id: i64,
                lang: $crate::core::message::Lang,
                text: &str,
                provider: &str,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<bool> {
                let done = sqlx::query($crate::store::sql::SAVE_TRANSLATION)
                    .bind(message_id)
                    .bind(lang.code())
                    .bind(text)
                    .bind(provider)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::PrivacyStore for $store {
            async fn delete_expired(
                &self,
                kind: $crate::store::Expired,
                cutoff: $crate::store::Millis,
                limit: i64,
            ) -> $crate::store::StoreResult<u64> {
                use $crate::store::{Expired, sql};
                let statement = match kind {
                    Expired::Messages => sql::DELETE_EXPIRED_MESSAGES,
                    Expired::OrderLookups => sql::DELETE_EXPIRED_LOOKUPS,
                    Expired::DeliveredOutbox => sql::DELETE_DELIVERED_OUTBOX,
                    Expired::ProcessedEvents => sql::DELETE_EXPIRED_EVENTS,
                    Expired::TicketNotes => sql::DELETE_EXPIRED_NOTES,
                    Expired::Feedback => sql::DELETE_EXPIRED_FEEDBACK,
                    Expired::ClosedTicketTexts => sql::CLEAR_CLOSED_TICKET_TEXTS,
                    Expired::IdleContactNames => sql::CLEAR_IDLE_CONTACT_NAMES,
                };
                Ok(sqlx::query(statement).bind(cutoff).bind(limit).execute(&self.pool).await?.rows_affected())
            }

            async fn flush_deletions(&self) -> $crate::store::StoreResult<bool> {
                <$store>::flush_deletions(self).await
            }

            async fn referenced_media(&self) -> $crate::store::StoreResult<Vec<String>> {
                let found = sqlx::query(dialect::REFERENCED_MEDIA).fetch_all(&self.pool).await?;
                found.iter().map(|row| row.text("refs")).collect()
            }
        }

        /// Queue figures, read on any connection of the backend (or a transaction on one).
        async fn queue_overview(
            conn: &mut (impl std::ops::DerefMut<Target = <$db as sqlx::Database>::Connection> + Send),
        ) -> $crate::store::StoreResult<$crate::store::QueueOverview> {
            use $crate::store::{StoreResult, count_u32, sql};
            let counts = sqlx::query(sql::QUEUE_COUNTS).fetch_one(&mut **conn).await?;
            let waits = sqlx::query(sql::RECENT_WAITS).fetch_all(&mut **conn).await?;
            Ok($crate::store::QueueOverview {
                queued_high: count_u32(counts.int("high")?),
                queued_normal: count_u32(counts.int("normal")?),
                queued_low: count_u32(counts.int("low")?),
                agents_on_duty: count_u32(counts.int("agents")?),
                recent_waits_secs: waits.iter().map(|row| row.int("wait")).collect::<StoreResult<_>>()?,
            })
        }

        /// Records every outcome but "sent" (which each backend marks its own way) in `tx`.
        async fn record_failures(
            tx: &mut (impl std::ops::DerefMut<Target = <$db as sqlx::Database>::Connection> + Send),
            outcomes: &[($crate::store::OutboxJob, $crate::store::DeliveryOutcome)],
            now: $crate::store::Millis,
        ) -> $crate::store::StoreResult<()> {
            use $crate::store::{DeliveryOutcome, sql};
            for (job, outcome) in outcomes {
                match outcome {
                    DeliveryOutcome::Sent => {}
                    DeliveryOutcome::Retry { at, count_attempt, error } => {
                        sqlx::query(sql::OUTBOX_RETRY)
                            .bind(job.id)
                            .bind(*at)
                            .bind(i64::from(*count_attempt))
                            .bind(error)
                            .execute(&mut **tx)
                            .await?;
                    }
                    DeliveryOutcome::Dead { error, unreachable } => {
                        sqlx::query(sql::OUTBOX_DEAD).bind(job.id).bind(error).execute(&mut **tx).await?;
                        if *unreachable {
                            sqlx::query(sql::SET_CONTACT_REACHABLE)
                                .bind(job.contact_id)
                                .bind(false)
                                .bind(now)
                                .execute(&mut **tx)
                                .await?;
                        }
                    }
                    DeliveryOutcome::Released => {
                        sqlx::query(sql::OUTBOX_RELEASE).bind(job.id).execute(&mut **tx).await?;
                    }
                }
            }
            Ok(())
        }
    };
}

pub(super) use impl_store;
