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
//! A read is a statement, its binds and how its rows become records (see `rows`): a single
//! column through `sqlx::query_scalar`, a record sqlx reads itself through `sqlx::query_as`, the
//! others by their mapping in `rows` ([`ReadRows`](super::rows::ReadRows)).
//!
//! The expansion expects in scope: `MIGRATOR`, the modules `sql` and `rows`, a module `dialect`
//! with the dialect-specific statements, `ReadRows`, and a store type with a `pool` field and a
//! transaction type with a `tx` field.

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
                let applied: Vec<i64> = sqlx::query_scalar(sql::APPLIED_MIGRATIONS).fetch_all(&self.pool).await?;
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
                let query = sqlx::query(sql::CONTACT_BY_KEY).bind(channel).bind(external_id);
                query.fetch_optional(&self.pool).await?.read(rows::contact)
            }

            async fn latest_ticket_id(&self, conversation_id: i64) -> $crate::store::StoreResult<Option<i64>> {
                let query = sqlx::query_scalar(sql::LATEST_TICKET_ID).bind(conversation_id);
                Ok(query.fetch_one(&self.pool).await?)
            }

            async fn conversation_of_contact(
                &self,
                contact_id: i64,
            ) -> $crate::store::StoreResult<Option<$crate::store::ConversationRow>> {
                let query = sqlx::query(sql::CONVERSATION_OF_CONTACT).bind(contact_id);
                query.fetch_optional(&self.pool).await?.read(rows::conversation)
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
                let code = status.map($crate::core::handoff::TicketStatus::code);
                let languages = languages.map($crate::store::language_codes);
                // Both statements read the same page: the tickets, then their photos.
                let page_of = |statement: &'static str| {
                    sqlx::query(statement).bind(code).bind(page.limit).bind(page.offset).bind(languages.as_deref())
                };
                let tickets = page_of(sql::TICKET_SUMMARIES).fetch_all(&self.pool).await?;
                let mut tickets = tickets.read(rows::ticket_summary)?;
                let attachments = page_of(sql::ATTACHMENTS_OF_PAGE).fetch_all(&self.pool).await?;
                rows::attach_to_summaries(&mut tickets, attachments.read(rows::attachment)?);
                Ok(tickets)
            }

            async fn queued_in_languages(
                &self,
                languages: Option<&[$crate::core::message::Lang]>,
            ) -> $crate::store::StoreResult<u32> {
                let languages = languages.map($crate::store::language_codes);
                let query = sqlx::query_scalar(sql::QUEUED_IN_LANGUAGES).bind(languages);
                let waiting: i64 = query.fetch_one(&self.pool).await?;
                Ok(u32::try_from(waiting).unwrap_or(u32::MAX))
            }

            async fn ticket(
                &self,
                ticket_id: i64,
            ) -> $crate::store::StoreResult<Option<$crate::store::TicketDetail>> {
                let query = sqlx::query(sql::TICKET_SUMMARY_BY_ID).bind(ticket_id);
                let Some(row) = query.fetch_optional(&self.pool).await? else { return Ok(None) };
                let mut ticket = rows::ticket_summary(&row)?;
                let query = sqlx::query(sql::ATTACHMENTS_OF_TICKET).bind(ticket_id);
                ticket.attachments = query.fetch_all(&self.pool).await?.read(rows::media)?;
                let messages =
                    <Self as $crate::store::Store>::transcript(self, ticket.conversation_id).await?;
                let notes = sqlx::query(sql::NOTES_OF_TICKET).bind(ticket_id);
                let notes = notes.fetch_all(&self.pool).await?.read(rows::note)?;
                let (order, customer) =
                    <Self as $crate::store::OrderStore>::ticket_order_and_customer(self, ticket_id).await?;
                // A snapshot that no longer reads (an older shape) is left out rather than failing the page.
                let order = order.and_then(|json| serde_json::from_str(&json).ok());
                Ok(Some($crate::store::TicketDetail { ticket, messages, notes, order, customer }))
            }

            async fn transcript(
                &self,
                conversation_id: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::TranscriptEntry>> {
                let query = sqlx::query(sql::TRANSCRIPT).bind(conversation_id);
                query.fetch_all(&self.pool).await?.read(rows::transcript_entry)
            }

            async fn dead_letters(
                &self,
                limit: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::DeadLetter>> {
                let query = sqlx::query(sql::DEAD_LETTERS).bind(limit);
                query.fetch_all(&self.pool).await?.read(rows::dead_letter)
            }

            async fn queue_overview(&self) -> $crate::store::StoreResult<$crate::store::QueueOverview> {
                let mut conn = self.pool.acquire().await?;
                queue_overview(&mut conn).await
            }

            async fn tickets_ahead(&self, ticket_id: i64) -> $crate::store::StoreResult<Option<u32>> {
                let query = sqlx::query_scalar(sql::TICKETS_AHEAD_OF_TICKET).bind(ticket_id);
                Ok(query.fetch_optional(&self.pool).await?.map($crate::store::count_u32))
            }

            async fn cursor(&self, name: &str) -> $crate::store::StoreResult<Option<String>> {
                Ok(sqlx::query_scalar(sql::CURSOR).bind(name).fetch_optional(&self.pool).await?)
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
                <$store>::claim(self, $crate::store::OutboxClaim::new(channels, None, now, lease, limit)).await
            }

            async fn claim_outbox_of_contact(
                &self,
                channel: &'static str,
                external_id: &str,
                now: $crate::store::Millis,
                lease: std::time::Duration,
                limit: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::OutboxJob>> {
                let channels = [channel];
                let claim = $crate::store::OutboxClaim::new(&channels, Some(external_id), now, lease, limit);
                <$store>::claim(self, claim).await
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
                let query = sqlx::query(sql::OUTBOX_ROW).bind(id);
                query.fetch_optional(&self.pool).await?.read(rows::outbox_row)
            }

            async fn outbox_of_conversation(
                &self,
                conversation_id: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::OutboxRow>> {
                let query = sqlx::query(sql::OUTBOX_OF_CONVERSATION).bind(conversation_id);
                query.fetch_all(&self.pool).await?.read(rows::outbox_row)
            }

            async fn pending_outbox(&self) -> $crate::store::StoreResult<i64> {
                Ok(sqlx::query_scalar(sql::PENDING_OUTBOX).fetch_one(&self.pool).await?)
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
                let query = sqlx::query(dialect::CONVERSATION_FOR_UPDATE).bind(conversation_id);
                let Some(row) = query.fetch_optional(&mut *self.tx).await? else { return Ok(None) };
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
                sqlx::query(sql::SET_CURSOR).bind(name).bind(value).bind(now).execute(&mut *self.tx).await?;
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
                let query = sqlx::query_scalar(sql::TICKETS_AHEAD_OF_CONVERSATION).bind(conversation_id);
                Ok(query.fetch_optional(&mut *self.tx).await?.map($crate::store::count_u32))
            }

            async fn open_ticket(
                &mut self,
                conversation_id: i64,
            ) -> $crate::store::StoreResult<Option<$crate::store::TicketRow>> {
                let query = sqlx::query(sql::OPEN_TICKET).bind(conversation_id);
                query.fetch_optional(&mut *self.tx).await?.read(rows::ticket)
            }

            async fn open_tickets(
                &mut self,
                conversation_ids: &[i64],
            ) -> $crate::store::StoreResult<Vec<$crate::store::TicketRow>> {
                <$tx>::open_tickets(self, conversation_ids).await
            }

            async fn latest_resolved_ticket(&mut self, conversation_id: i64) -> $crate::store::StoreResult<Option<i64>> {
                let query = sqlx::query_scalar(sql::LATEST_RESOLVED_TICKET).bind(conversation_id);
                Ok(query.fetch_optional(&mut *self.tx).await?)
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
                let id = sqlx::query_scalar(sql::INSERT_TICKET)
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
                Ok(id)
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
                use $crate::store::TicketChange;
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
                let query = sqlx::query_scalar(sql::INSERT_NOTE).bind(ticket_id).bind(agent).bind(text).bind(now);
                Ok(query.fetch_one(&mut *self.tx).await?)
            }

            async fn tickets_due_reminder(
                &mut self,
                waiting_since: $crate::store::Millis,
                reminded_before: $crate::store::Millis,
                limit: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::TicketRow>> {
                let query =
                    sqlx::query(sql::TICKETS_DUE_REMINDER).bind(waiting_since).bind(reminded_before).bind(limit);
                query.fetch_all(&mut *self.tx).await?.read(rows::ticket)
            }

            async fn set_contact_language(
                &mut self,
                contact_id: i64,
                lang: $crate::core::message::Lang,
                chosen: bool,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(sql::SET_CONTACT_LANGUAGE)
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
                sqlx::query(sql::SET_CONTACT_REACHABLE)
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
                sqlx::query(sql::INSERT_FEEDBACK)
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
                use $crate::store::ErasedContact;
                let query = sqlx::query_scalar(dialect::CONTACT_TO_ERASE).bind(channel).bind(external_id);
                let Some(contact_id): Option<i64> = query.fetch_optional(&mut *self.tx).await? else {
                    return Ok(None);
                };
                let query = sqlx::query_scalar(dialect::THEIR_DOCUMENTS).bind(contact_id);
                let their_documents = query.fetch_all(&mut *self.tx).await?;
                let query = sqlx::query_scalar(sql::THEIR_TICKET_PHOTOS).bind(contact_id);
                let their_ticket_photos = query.fetch_all(&mut *self.tx).await?;
                let mut erased =
                    ErasedContact { contact_id, their_documents, their_ticket_photos, ..ErasedContact::default() };
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
                erased.remaining = sqlx::query_scalar(dialect::REFERENCED_MEDIA).fetch_all(&mut *self.tx).await?;
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
                let credentials = agent.credentials;
                let id = sqlx::query_scalar(sql::INSERT_AGENT)
                    .bind(credentials.name)
                    .bind(credentials.password_hash)
                    .bind(agent.role.code())
                    .bind(credentials.must_change_password)
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(id)
            }

            async fn agents(&self) -> $crate::store::StoreResult<Vec<$crate::store::Agent>> {
                sqlx::query(sql::AGENTS).fetch_all(&self.pool).await?.read(rows::agent)
            }

            async fn agent_count(&self) -> $crate::store::StoreResult<i64> {
                Ok(sqlx::query_scalar(sql::AGENT_COUNT).fetch_one(&self.pool).await?)
            }

            async fn agent_by_name(&self, name: &str) -> $crate::store::StoreResult<Option<$crate::store::Agent>> {
                let query = sqlx::query(sql::AGENT_BY_NAME).bind(name);
                query.fetch_optional(&self.pool).await?.read(rows::agent)
            }

            async fn agent_with_password_hash(
                &self,
                name: &str,
            ) -> $crate::store::StoreResult<Option<($crate::store::Agent, String)>> {
                let query = sqlx::query(sql::AGENT_WITH_PASSWORD).bind(name);
                query.fetch_optional(&self.pool).await?.read(rows::agent_with_password_hash)
            }

            async fn disable_agent(&self, name: &str) -> $crate::store::StoreResult<bool> {
                let query = sqlx::query_scalar(sql::DISABLE_AGENT).bind(name);
                let Some(id): Option<i64> = query.fetch_optional(&self.pool).await? else { return Ok(false) };
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
                let done = sqlx::query(sql::SET_AGENT_PROFILE)
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
                let done = sqlx::query(sql::SET_AGENT_LANGUAGES)
                    .bind(console_lang.map(|lang| lang.code()))
                    .bind($crate::store::language_codes(languages))
                    .bind(name)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn is_agent_photo(&self, sha256: &str) -> $crate::store::StoreResult<bool> {
                Ok(sqlx::query_scalar(sql::IS_AGENT_PHOTO).bind(sha256).fetch_one(&self.pool).await?)
            }

            async fn enable_agent(&self, name: &str) -> $crate::store::StoreResult<bool> {
                let done = sqlx::query(sql::ENABLE_AGENT).bind(name).execute(&self.pool).await?;
                Ok(done.rows_affected() > 0)
            }

            async fn set_password_hash(
                &self,
                change: $crate::store::PasswordChange<'_>,
            ) -> $crate::store::StoreResult<bool> {
                let mut tx = self.pool.begin().await?;
                let credentials = change.credentials;
                let query = sqlx::query_scalar(sql::SET_PASSWORD)
                    .bind(credentials.password_hash)
                    .bind(credentials.must_change_password)
                    .bind(credentials.name);
                let Some(id): Option<i64> = query.fetch_optional(&mut *tx).await? else { return Ok(false) };
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
                let query = sqlx::query(sql::SESSION).bind(token_hash).bind(now);
                query.fetch_optional(&self.pool).await?.read(rows::session)
            }

            async fn delete_session(&self, token_hash: &str) -> $crate::store::StoreResult<()> {
                sqlx::query(sql::DELETE_SESSION).bind(token_hash).execute(&self.pool).await?;
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
                sqlx::query(sql::INSERT_API_TOKEN)
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
                Ok(sqlx::query_as(sql::API_TOKENS).fetch_all(&self.pool).await?)
            }

            async fn revoke_api_token(&self, id: i64) -> $crate::store::StoreResult<bool> {
                let done = sqlx::query(sql::REVOKE_API_TOKEN).bind(id).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn agent_for_token_hash(
                &self,
                token_hash: &str,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<Option<$crate::store::Agent>> {
                let query = sqlx::query(sql::AGENT_FOR_TOKEN).bind(token_hash).bind(now);
                let Some(row) = query.fetch_optional(&self.pool).await? else { return Ok(None) };
                let agent = rows::agent(&row)?;
                sqlx::query(sql::TOKEN_USED).bind(now).bind(token_hash).execute(&self.pool).await?;
                Ok(Some(agent))
            }

            async fn server_secret(
                &self,
                name: &str,
                candidate: &str,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<String> {
                sqlx::query(sql::INSERT_SERVER_SECRET)
                    .bind(name)
                    .bind(candidate)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(sqlx::query_scalar(sql::SERVER_SECRET).bind(name).fetch_one(&self.pool).await?)
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
                let query = sqlx::query(sql::LOG_AFTER).bind(conversation_id).bind(after).bind(limit);
                query.fetch_all(&self.pool).await?.read(rows::log_entry)
            }

            async fn contact_log_after(
                &self,
                channel: &str,
                external_id: &str,
                after: i64,
                limit: i64,
            ) -> $crate::store::StoreResult<$crate::store::ContactLog> {
                use $crate::store::ContactLog;
                let query = sqlx::query_scalar(sql::CONTACT_LANG).bind(channel).bind(external_id);
                let Some(code): Option<String> = query.fetch_optional(&self.pool).await? else {
                    return Ok(ContactLog { lang: None, messages: Vec::new() });
                };
                let lang = $crate::core::message::Lang::from_code(&code);
                if limit <= 0 {
                    return Ok(ContactLog { lang, messages: Vec::new() });
                }
                let query = sqlx::query(sql::CONTACT_LOG_AFTER).bind(channel).bind(external_id).bind(after).bind(limit);
                let messages = query.fetch_all(&self.pool).await?.read(rows::log_entry)?;
                Ok(ContactLog { lang, messages })
            }

            async fn last_bot_message(
                &self,
                channel: &str,
                external_id: &str,
            ) -> $crate::store::StoreResult<Option<$crate::store::LogEntry>> {
                let query = sqlx::query(sql::LAST_BOT_MESSAGE_OF_CONTACT).bind(channel).bind(external_id);
                query.fetch_optional(&self.pool).await?.read(rows::log_entry)
            }

            async fn media_is_known(&self, sha256: &str) -> $crate::store::StoreResult<bool> {
                let on_ticket: bool =
                    sqlx::query_scalar(sql::MEDIA_ON_TICKETS).bind(sha256).fetch_one(&self.pool).await?;
                if on_ticket {
                    return Ok(true);
                }
                let query = sqlx::query_scalar(dialect::MEDIA_IN_MESSAGES).bind(format!("\"{sha256}\""));
                Ok(query.fetch_one(&self.pool).await?)
            }

            async fn contact_has_media(
                &self,
                channel: &str,
                external_id: &str,
                sha256: &str,
            ) -> $crate::store::StoreResult<bool> {
                let query = sqlx::query_scalar(dialect::CONTACT_HAS_MEDIA)
                    .bind(channel)
                    .bind(external_id)
                    .bind(format!("\"{sha256}\""));
                Ok(query.fetch_one(&self.pool).await?)
            }

            async fn ticket_status(&self, ticket_id: i64) -> $crate::store::StoreResult<Option<String>> {
                let query = sqlx::query_as(sql::TICKET_STATUS).bind(ticket_id);
                let found: Option<(String, Option<String>)> = query.fetch_optional(&self.pool).await?;
                Ok(found.map(|(status, agent)| format!("{status}|{}", agent.unwrap_or_default())))
            }

            async fn change_marker(&self) -> $crate::store::StoreResult<$crate::store::ChangeMarker> {
                Ok(sqlx::query_as(sql::CHANGE_MARKER).fetch_one(&self.pool).await?)
            }

            async fn ticket_times(
                &self,
                since: $crate::store::Millis,
            ) -> $crate::store::StoreResult<Vec<$crate::store::TicketTimes>> {
                Ok(sqlx::query_as(sql::TICKET_TIMES).bind(since).fetch_all(&self.pool).await?)
            }

            async fn faq_verdicts(
                &self,
                since: $crate::store::Millis,
            ) -> $crate::store::StoreResult<Vec<$crate::store::FaqVerdict>> {
                Ok(sqlx::query_as(sql::FAQ_VERDICTS).bind(since).fetch_all(&self.pool).await?)
            }

            async fn canned_replies(
                &self,
                lang: Option<$crate::core::message::Lang>,
            ) -> $crate::store::StoreResult<Vec<$crate::store::CannedReply>> {
                let query = match lang {
                    Some(lang) => sqlx::query_as(sql::CANNED_REPLIES_OF_LANG).bind(lang.code()),
                    None => sqlx::query_as(sql::CANNED_REPLIES),
                };
                Ok(query.fetch_all(&self.pool).await?)
            }

            async fn create_canned_reply(
                &self,
                lang: $crate::core::message::Lang,
                title: &str,
                body: &str,
                set: Option<i64>,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<Option<i64>> {
                let id = sqlx::query_scalar(sql::INSERT_CANNED_REPLY)
                    .bind(lang.code())
                    .bind(title)
                    .bind(body)
                    .bind(now)
                    .bind(set)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(id)
            }

            async fn update_canned_reply(
                &self,
                id: i64,
                lang: $crate::core::message::Lang,
                title: &str,
                body: &str,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<bool> {
                let done = sqlx::query(sql::UPDATE_CANNED_REPLY)
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
                    sqlx::query(sql::DELETE_CANNED_REPLY).bind(id).execute(&self.pool).await?;
                Ok(done.rows_affected() == 1)
            }

            async fn translations(
                &self,
                conversation_id: i64,
                lang: $crate::core::message::Lang,
            ) -> $crate::store::StoreResult<std::collections::HashMap<i64, String>> {
                let query = sqlx::query_as(sql::TRANSLATIONS_OF_CONVERSATION).bind(conversation_id).bind(lang.code());
                let found: Vec<(i64, String)> = query.fetch_all(&self.pool).await?;
                Ok(found.into_iter().collect())
            }

            async fn save_translation(
                &self,
                message_id: i64,
                lang: $crate::core::message::Lang,
                text: &str,
                provider: &str,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<bool> {
                let done = sqlx::query(sql::SAVE_TRANSLATION)
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
                use $crate::store::Expired;
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
                Ok(sqlx::query_scalar(dialect::REFERENCED_MEDIA).fetch_all(&self.pool).await?)
            }
        }

        /// Queue figures, read on any connection of the backend (or a transaction on one).
        async fn queue_overview(
            conn: &mut (impl std::ops::DerefMut<Target = <$db as sqlx::Database>::Connection> + Send),
        ) -> $crate::store::StoreResult<$crate::store::QueueOverview> {
            use $crate::store::count_u32;
            let (high, normal, low, agents): (i64, i64, i64, i64) =
                sqlx::query_as(sql::QUEUE_COUNTS).fetch_one(&mut **conn).await?;
            Ok($crate::store::QueueOverview {
                queued_high: count_u32(high),
                queued_normal: count_u32(normal),
                queued_low: count_u32(low),
                agents_on_duty: count_u32(agents),
                recent_waits_secs: sqlx::query_scalar(sql::RECENT_WAITS).fetch_all(&mut **conn).await?,
            })
        }

        /// Records every outcome but "sent" (which each backend marks its own way) in `tx`.
        async fn record_failures(
            tx: &mut (impl std::ops::DerefMut<Target = <$db as sqlx::Database>::Connection> + Send),
            outcomes: &[($crate::store::OutboxJob, $crate::store::DeliveryOutcome)],
            now: $crate::store::Millis,
        ) -> $crate::store::StoreResult<()> {
            use $crate::store::DeliveryOutcome;
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
