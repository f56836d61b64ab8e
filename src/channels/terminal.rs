//! A conversation in the terminal, through the same engine and store as every other channel.
//!
//! Bot buttons are printed as numbered choices (`[1] Label`) and typing the number presses the
//! button; `/photo PATH` attaches an image file. When the input is not a terminal, each line is
//! one customer message and the session waits for the bot's replies to it before reading the
//! next, so the channel can be scripted.

use crate::channels::{
    Accepted, Channel, Delivery, DeliveryError, InboundEvent, InboundKind, Intake, Renderer,
};
use crate::core::dialog::Input;
use crate::core::message::{Action, Outbound};
use crate::i18n::RenderedReply;
use crate::media::MediaStore;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

pub const CHANNEL: &str = "terminal";

/// What the outbox handed to the terminal.
#[derive(Debug, Clone, PartialEq)]
pub enum Printed {
    Bot(RenderedReply),
    Agent { agent: String, text: String },
}

/// The outbound half: delivered messages go to the session that prints them.
pub struct TerminalChannel {
    render: Renderer,
    sender: mpsc::UnboundedSender<Printed>,
}

impl TerminalChannel {
    pub fn new(render: Renderer) -> (TerminalChannel, mpsc::UnboundedReceiver<Printed>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (TerminalChannel { render, sender }, receiver)
    }
}

#[async_trait::async_trait]
impl Channel for TerminalChannel {
    fn name(&self) -> &'static str {
        CHANNEL
    }

    async fn deliver(&self, delivery: &Delivery) -> Result<(), DeliveryError> {
        let printed = match &delivery.message {
            Outbound::Bot(reply) => Printed::Bot((self.render)(delivery.lang, reply)),
            Outbound::Agent { agent, text, .. } => {
                Printed::Agent { agent: agent.clone(), text: text.clone() }
            }
        };
        // The session is gone (the terminal was closed): the message stays in the log, and
        // retrying cannot reach anyone.
        self.sender.send(printed).map_err(|_| DeliveryError::Permanent {
            reason: "the terminal session has ended".to_owned(),
            unreachable: false,
        })
    }
}

/// The inbound half: reads lines, sends events, prints replies.
pub struct TerminalSession {
    /// Who types: the contact's external id, and the language they asked for.
    user: String,
    lang_hint: Option<String>,
    intake: Arc<dyn Intake>,
    media: MediaStore,
    replies: mpsc::UnboundedReceiver<Printed>,
    /// How long to wait for a reply before giving up on it (the outbox retries on its own).
    reply_timeout: Duration,
    /// What each button number presses: the encoded actions of the last bot message shown.
    buttons: Vec<String>,
}

/// What one line of input turns into.
#[derive(Debug, PartialEq)]
enum Line {
    Event(Input),
    /// Something to tell the local user without bothering the bot.
    Local(String),
    Skip,
}

impl TerminalSession {
    pub fn new(
        intake: Arc<dyn Intake>,
        media: MediaStore,
        user: String,
        lang_hint: Option<String>,
        replies: mpsc::UnboundedReceiver<Printed>,
        reply_timeout: Duration,
    ) -> TerminalSession {
        TerminalSession { intake, media, user, lang_hint, replies, reply_timeout, buttons: Vec::new() }
    }

    /// Prints one message as if it had just arrived; its buttons become the numbered choices.
    /// A continued run starts with the bot's last message this way.
    pub async fn show<W: AsyncWrite + Unpin>(
        &mut self,
        output: &mut W,
        printed: &Printed,
    ) -> std::io::Result<()> {
        write_printed(output, printed, &mut self.buttons).await?;
        output.flush().await
    }

    /// Prints every message already delivered to this session and not yet shown; returns how
    /// many there were. Called at the start, for rows that waited for this user, and at the
    /// end, for rows delivered while the session was closing.
    pub async fn show_delivered<W: AsyncWrite + Unpin>(&mut self, output: &mut W) -> std::io::Result<usize> {
        let mut shown = 0;
        while let Ok(printed) = self.replies.try_recv() {
            write_printed(output, &printed, &mut self.buttons).await?;
            shown += 1;
        }
        output.flush().await?;
        Ok(shown)
    }

    pub async fn run<R, W>(&mut self, input: R, output: &mut W, interactive: bool) -> anyhow::Result<()>
    where
        R: AsyncBufRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let mut lines = input.lines();
        if interactive {
            output
                .write_all(b"Chatting as a customer. Type a message, a button number, /photo PATH, or Ctrl-D to quit.\n")
                .await?;
            output.write_all(b"> ").await?;
            output.flush().await?;
        }
        loop {
            // Interactively, an agent's reply can arrive at any time; print it as it comes.
            let line = if interactive {
                tokio::select! {
                    line = lines.next_line() => line?,
                    Some(printed) = self.replies.recv() => {
                        write_printed(output, &printed, &mut self.buttons).await?;
                        output.write_all(b"> ").await?;
                        output.flush().await?;
                        continue;
                    }
                }
            } else {
                lines.next_line().await?
            };
            let Some(line) = line else { break };
            let expected = match self.parse(&line).await {
                Line::Skip => 0,
                Line::Local(message) => {
                    output.write_all(format!("{message}\n").as_bytes()).await?;
                    0
                }
                Line::Event(input) => match self.intake.accept(self.event(input)).await? {
                    Accepted::Applied { replies } => replies,
                    Accepted::Duplicate => 0,
                },
            };
            for _ in 0..expected {
                match tokio::time::timeout(self.reply_timeout, self.replies.recv()).await {
                    Ok(Some(printed)) => write_printed(output, &printed, &mut self.buttons).await?,
                    Ok(None) => anyhow::bail!("the delivery worker stopped"),
                    Err(_) => {
                        output
                            .write_all(
                                b"(the reply is delayed; it will be delivered when the outbox retries)\n",
                            )
                            .await?;
                        break;
                    }
                }
            }
            if interactive {
                output.write_all(b"> ").await?;
            }
            output.flush().await?;
        }
        Ok(())
    }

    async fn parse(&self, line: &str) -> Line {
        let buttons = &self.buttons;
        let trimmed = line.trim();
        if let Some(path) = trimmed.strip_prefix("/photo") {
            let path = path.trim();
            if path.is_empty() {
                return Line::Local("usage: /photo PATH".to_owned());
            }
            let bytes = match tokio::fs::read(path).await {
                Ok(bytes) => bytes,
                Err(error) => return Line::Local(format!("cannot read {path}: {error}")),
            };
            return match self.media.store(&bytes).await {
                Ok(media) => Line::Event(Input::Photo { media, caption: None }),
                Err(refused) => match refused.problem_for_customer(self.media.max_megabytes()) {
                    Some(problem) => Line::Event(Input::PhotoRejected { problem }),
                    None => Line::Local(format!("cannot store the photo: {refused}")),
                },
            };
        }
        if let Ok(number) = trimmed.parse::<usize>()
            && (1..=buttons.len()).contains(&number)
        {
            return match Action::decode(&buttons[number - 1]) {
                Some(action) => Line::Event(Input::Button { action }),
                None => Line::Event(Input::StaleButton),
            };
        }
        if trimmed.is_empty() && line.is_empty() {
            return Line::Skip;
        }
        Line::Event(Input::Text { text: line.to_owned() })
    }

    fn event(&self, input: Input) -> InboundEvent {
        InboundEvent {
            channel: CHANNEL,
            // A terminal line is never redelivered, so every line is a new event.
            event_id: uuid::Uuid::new_v4().to_string(),
            external_id: self.user.clone(),
            language_hint: self.lang_hint.clone(),
            display_name: Some(self.user.clone()),
            contact_data: None,
            kind: InboundKind::Input(input),
        }
    }
}

async fn write_printed<W: AsyncWrite + Unpin>(
    output: &mut W,
    printed: &Printed,
    buttons: &mut Vec<String>,
) -> std::io::Result<()> {
    let mut text = String::new();
    match printed {
        Printed::Bot(reply) => {
            text.push_str(&reply.text);
            text.push('\n');
            for attachment in &reply.attachments {
                text.push_str(&format!("(image {}, {} bytes)\n", attachment.content_type, attachment.bytes));
            }
            if !reply.buttons.is_empty() {
                buttons.clear();
                for button in reply.buttons.iter().flatten() {
                    buttons.push(button.data.clone());
                    text.push_str(&format!("[{}] {}\n", buttons.len(), button.label));
                }
            }
        }
        // An agent without a display name is shown as the team, never by login.
        Printed::Agent { agent, text: said } if agent.is_empty() => {
            text.push_str(&format!("Support: {said}\n"))
        }
        Printed::Agent { agent, text: said } => text.push_str(&format!("{agent}: {said}\n")),
    }
    output.write_all(text.as_bytes()).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::{IntakeError, key_renderer};
    use crate::core::message::{Lang, Reply};
    use std::sync::Mutex;

    /// Records events and answers each with one canned reply, like an engine with one reply.
    struct EchoIntake {
        seen: Mutex<Vec<InboundEvent>>,
        channel: TerminalChannel,
    }

    #[async_trait::async_trait]
    impl Intake for EchoIntake {
        async fn accept(&self, event: InboundEvent) -> Result<Accepted, IntakeError> {
            self.seen.lock().unwrap().push(event);
            let reply = Reply::new("menu-prompt").row(vec![
                crate::core::message::Button::new("button-yes", Action::Helped),
                crate::core::message::Button::new("button-no", Action::NotHelped),
            ]);
            let delivery = Delivery {
                outbox_id: 1,
                external_id: "ann".into(),
                contact_data: None,
                lang: Lang::En,
                message: Outbound::Bot(reply),
                ticket: None,
            };
            self.channel.deliver(&delivery).await.unwrap();
            Ok(Accepted::Applied { replies: 1 })
        }
        async fn accept_batch(&self, events: Vec<InboundEvent>) -> Result<Vec<Accepted>, IntakeError> {
            let mut results = Vec::new();
            for event in events {
                results.push(self.accept(event).await?);
            }
            Ok(results)
        }
        async fn cursor(&self, _name: &str) -> Result<Option<String>, IntakeError> {
            Ok(None)
        }
        async fn save_cursor(&self, _name: &str, _value: &str) -> Result<(), IntakeError> {
            Ok(())
        }
    }

    /// A session for `ann` over an intake that answers every event with a menu.
    fn session(dir: &std::path::Path, lang_hint: Option<&str>) -> (Arc<EchoIntake>, TerminalSession) {
        let (channel, receiver) = TerminalChannel::new(key_renderer());
        let intake = Arc::new(EchoIntake { seen: Mutex::new(Vec::new()), channel });
        let session = TerminalSession::new(
            intake.clone(),
            MediaStore::new(dir, 1024),
            "ann".into(),
            lang_hint.map(str::to_owned),
            receiver,
            Duration::from_secs(5),
        );
        (intake, session)
    }

    #[tokio::test]
    async fn scripted_lines_become_events_and_numbers_press_buttons() {
        let dir = tempfile::tempdir().unwrap();
        let (intake, mut session) = session(dir.path(), Some("ru"));
        std::fs::write(dir.path().join("note.txt"), "not a picture").unwrap();
        let script = format!(
            "hello\n2\n9\n/photo {}\n/photo /nonexistent.png\n\n",
            dir.path().join("note.txt").display()
        );
        let mut output = Vec::new();
        session.run(script.as_bytes(), &mut output, false).await.unwrap();

        let printed = String::from_utf8(output).unwrap();
        assert!(printed.starts_with("<menu-prompt>\n[1] button-yes\n[2] button-no\n"), "{printed}");
        assert!(printed.contains("cannot read /nonexistent.png"), "{printed}");

        let seen = intake.seen.lock().unwrap();
        let inputs: Vec<&InboundKind> = seen.iter().map(|event| &event.kind).collect();
        assert_eq!(
            inputs,
            vec![
                &InboundKind::Input(Input::Text { text: "hello".into() }),
                &InboundKind::Input(Input::Button { action: Action::NotHelped }),
                &InboundKind::Input(Input::Text { text: "9".into() }),
                &InboundKind::Input(Input::PhotoRejected {
                    problem: crate::core::dialog::PhotoProblem::NotAnImage
                }),
            ]
        );
        assert!(seen.iter().all(|event| event.channel == CHANNEL && event.external_id == "ann"));
        assert_eq!(seen[0].language_hint.as_deref(), Some("ru"));
        let ids: std::collections::HashSet<&String> = seen.iter().map(|event| &event.event_id).collect();
        assert_eq!(ids.len(), seen.len(), "every line is its own event");
    }

    #[tokio::test]
    async fn a_continued_run_shows_the_last_question_and_its_numbers_press_its_buttons() {
        let dir = tempfile::tempdir().unwrap();
        let (intake, mut session) = session(dir.path(), None);
        let last = Reply::new("ask-photo-optional")
            .row(vec![crate::core::message::Button::new("button-skip", Action::SkipPhoto)]);
        let mut output = Vec::new();
        session.show(&mut output, &Printed::Bot(key_renderer()(Lang::En, &last))).await.unwrap();
        session.run("1\n".as_bytes(), &mut output, false).await.unwrap();

        let printed = String::from_utf8(output).unwrap();
        assert!(printed.starts_with("<ask-photo-optional>\n[1] button-skip\n"), "{printed}");
        let seen = intake.seen.lock().unwrap();
        assert_eq!(seen[0].kind, InboundKind::Input(Input::Button { action: Action::SkipPhoto }));
    }

    #[tokio::test]
    async fn replies_delivered_before_the_first_line_are_shown_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (intake, mut session) = session(dir.path(), None);
        for (id, text) in [(1, "first"), (2, "second")] {
            let delivery = Delivery {
                outbox_id: id,
                external_id: "ann".into(),
                contact_data: None,
                lang: Lang::En,
                message: Outbound::Agent { agent: "Olga".into(), text: text.into(), attachments: Vec::new() },
                ticket: None,
            };
            intake.channel.deliver(&delivery).await.unwrap();
        }
        let mut output = Vec::new();
        assert_eq!(session.show_delivered(&mut output).await.unwrap(), 2);
        assert_eq!(String::from_utf8(output).unwrap(), "Olga: first\nOlga: second\n");
    }
}
