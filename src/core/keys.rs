//! Every Fluent message key the code asks for, in one place.
//!
//! `switchboard locales check` compares this list with the `.ftl` files, so a key used in code
//! but missing from every locale is caught before a customer sees a raw key.

use crate::core::faq::Intent;
use crate::core::message::{IssueType, Lang};

macro_rules! define_keys {
    ($($(#[$doc:meta])* $name:ident = $key:literal,)*) => {
        $($(#[$doc])* pub const $name: &str = $key;)*
        /// The keys with fixed names (see [`all_keys`] for the derived ones).
        pub const STATIC_KEYS: &[&str] = &[$($key),*];
    };
}

define_keys! {
    GREETING = "greeting",
    MENU_PROMPT = "menu-prompt",
    HELP = "help",
    UNKNOWN_COMMAND = "unknown-command",
    NOTHING_TO_CANCEL = "nothing-to-cancel",
    CANCELLED = "cancelled",
    NOT_UNDERSTOOD = "not-understood",
    EMPTY_MESSAGE = "empty-message",
    TEXT_TOO_LONG = "text-too-long",
    UNSUPPORTED_CONTENT = "unsupported-content",
    PHOTO_TOO_LARGE = "photo-too-large",
    PHOTO_NOT_AN_IMAGE = "photo-not-an-image",
    PHOTO_UNAVAILABLE = "photo-unavailable",
    STALE_BUTTON = "stale-button",
    CHOICES_HINT = "choices-hint",
    ASK_ORDER_ID = "ask-order-id",
    ORDER_ID_INVALID = "order-id-invalid",
    ORDER_ID_ACCEPTED = "order-id-accepted",
    ASK_PHOTO_REQUIRED = "ask-photo-required",
    ASK_PHOTO_OPTIONAL = "ask-photo-optional",
    PHOTO_REQUIRED = "photo-required",
    PHOTO_RECEIVED = "photo-received",
    ASK_MORE_PHOTOS = "ask-more-photos",
    PHOTO_LIMIT_REACHED = "photo-limit-reached",
    PHOTO_NOT_EXPECTED = "photo-not-expected",
    ASK_DESCRIPTION = "ask-description",
    ASK_COMPLAINT = "ask-complaint",
    SUGGESTION_INTRO = "suggestion-intro",
    DID_IT_HELP = "did-it-help",
    GLAD_IT_HELPED = "glad-it-helped",
    HANDOFF_QUEUED = "handoff-queued",
    HANDOFF_QUEUED_AFTER_HOURS = "handoff-queued-after-hours",
    COMPLAINT_QUEUED = "complaint-queued",
    ALREADY_QUEUED = "already-queued",
    QUEUED_MESSAGE_ADDED = "queued-message-added",
    QUEUE_UPDATE = "queue-update",
    QUEUE_UPDATE_AFTER_HOURS = "queue-update-after-hours",
    REQUEST_STILL_OPEN = "request-still-open",
    REQUEST_WITHDRAWN = "request-withdrawn",
    AGENT_JOINED = "agent-joined",
    /// For an agent without a display name.
    AGENT_JOINED_UNNAMED = "agent-joined-unnamed",
    RETURNED_TO_QUEUE = "returned-to-queue",
    TICKET_REOPENED = "ticket-reopened",
    TICKET_REOPENED_UNNAMED = "ticket-reopened-unnamed",
    ASSIGNED_REMINDER = "assigned-reminder",
    ASSIGNED_REMINDER_UNNAMED = "assigned-reminder-unnamed",
    ASK_RATING = "ask-rating",
    RATING_INVALID = "rating-invalid",
    ASK_COMMENT = "ask-comment",
    THANKS_FOR_RATING = "thanks-for-rating",
    ASK_FEEDBACK = "ask-feedback",
    THANKS_FOR_FEEDBACK = "thanks-for-feedback",
    CHOOSE_LANGUAGE = "choose-language",
    LANGUAGE_SET = "language-set",
    /// A new order number replaced the one given earlier in the flow.
    ORDER_ID_CHANGED = "order-id-changed",
    /// An order number came alone: which problem is it?
    CHOOSE_ORDER_PROBLEM = "choose-order-problem",
    /// Two intents came out equally likely; the buttons name them (`topic-*`).
    CLARIFY = "clarify",
    /// A message that is no problem type after an order number came alone.
    NOT_UNDERSTOOD_ORDER = "not-understood-order",
    /// Instead of a second "didn't understand" in a row.
    OFFER_PERSON = "offer-person",
    YOU_ARE_WELCOME = "you-are-welcome",
    /// "Any news on my request?" with no request open.
    NO_OPEN_REQUEST = "no-open-request",
    GROUP_CHAT_NOT_SUPPORTED = "group-chat-not-supported",
    /// Sent once when a customer goes over the flood limit (see `core::flood`).
    FLOOD_NOTICE = "flood-notice",
    /// An order's status, carrier and tracking link, as the order source reported them.
    ORDER_STATUS = "order-status",
    /// The normalised status as words, selected by `$status` (referenced by the order texts).
    ORDER_STATUS_LABEL = "order-status-label",
    /// The order's parcel: carrier, tracking number and link, expected date.
    ORDER_TRACKING = "order-tracking",
    /// Whether an order can be refunded, and until when.
    ORDER_REFUND = "order-refund",
    /// A problem flow's order, looked up: its status in one line, then the flow goes on.
    ORDER_FOUND_FOR_PROBLEM = "order-found-for-problem",
    /// The source knows no such order (for this customer): retype it, or ask a person.
    ORDER_NOT_FOUND = "order-not-found",
    /// A signed-in customer asked about "my order" and the store has none for them.
    ORDER_NONE_FOR_CUSTOMER = "order-none-for-customer",
    /// The store wants the email or phone number the order was placed with.
    ASK_ORDER_VERIFIER = "ask-order-verifier",
    /// What the customer sent is not an email (a phone number).
    ORDER_VERIFIER_INVALID = "order-verifier-invalid",
    /// Too many failed lookups this hour: no more, a person can help.
    ORDER_LOOKUP_LIMIT = "order-lookup-limit",
    /// The store could not be asked (down, slow, paused): a person can help.
    ORDER_STORE_UNAVAILABLE = "order-store-unavailable",
    /// In a problem flow, the store could not be asked: the request goes on without it.
    ORDER_NOT_CHECKED = "order-not-checked",
    /// A message while the lookup runs.
    ORDER_STILL_CHECKING = "order-still-checking",
    /// A messenger contact was linked to their account on the store's site.
    ACCOUNT_LINKED = "account-linked",
    /// A link that is expired, used or forged.
    ACCOUNT_LINK_INVALID = "account-link-invalid",
    /// The first line of the one letter that answers a customer's letter (email).
    EMAIL_RECEIVED = "email-received",
    /// The same, naming the order number found in the subject or the body.
    EMAIL_RECEIVED_ORDER = "email-received-order",
    /// Under an FAQ answer by email: how to reach a person if it did not help.
    EMAIL_REPLY_HUMAN = "email-reply-human",
    /// A further letter while the request waits: it reached the request.
    EMAIL_ADDED_TO_REQUEST = "email-added-to-request",
    /// The subject of our reply to a letter that had none.
    EMAIL_SUBJECT_DEFAULT = "email-subject-default",
    BUTTON_SKIP = "button-skip",
    BUTTON_DONE = "button-done",
    BUTTON_YES = "button-yes",
    BUTTON_NO = "button-no",
    BUTTON_HUMAN = "button-human",
    BUTTON_MENU = "button-menu",
    BUTTON_WITHDRAW = "button-withdraw",
    BUTTON_SKIP_COMMENT = "button-skip-comment",
}

/// Every key the agent console asks for (`locales/<lang>/console.ftl`). A test in
/// `console::texts` proves the templates and the console's code ask for no other key and use
/// every one of these; `locales check` proves each exists in every language.
pub const CONSOLE_KEYS: &[&str] = &[
    "console-title",
    "console-skip-to-content",
    "console-signed-in-as",
    "console-sign-out",
    "console-channel-down",
    "console-back-to-queue",
    "console-actions",
    "console-claim",
    "console-save",
    "console-delete",
    "console-not-sent",
    "console-photo-from-customer",
    "console-nav-queue",
    "console-nav-dashboard",
    "console-nav-canned",
    "console-nav-agents",
    "console-nav-tokens",
    "console-nav-profile",
    "console-duration-under-a-minute",
    "console-duration-seconds",
    "console-duration-minutes",
    "console-duration-minutes-seconds",
    "console-duration-hours",
    "console-duration-days",
    "console-status-queued",
    "console-status-assigned",
    "console-status-resolved",
    "console-login-title",
    "console-login-heading",
    "console-login-name",
    "console-login-password",
    "console-login-submit",
    "console-login-wrong",
    "console-login-too-many",
    "console-password-heading",
    "console-password-must-change",
    "console-password-current",
    "console-password-new",
    "console-password-repeat",
    "console-password-submit",
    "console-password-wrong",
    "console-password-differ",
    "console-password-same",
    "console-password-too-many",
    "console-profile-heading",
    "console-profile-console-language",
    "console-profile-browser-language",
    "console-profile-speaks",
    "console-profile-submit",
    "console-profile-saved",
    "console-notice-claimed",
    "console-notice-taken",
    "console-notice-closed",
    "console-notice-replied",
    "console-notice-resolved",
    "console-notice-reopened",
    "console-notice-released",
    "console-notice-transferred",
    "console-notice-noted",
    "console-notice-not-yours",
    "console-notice-not-allowed",
    "console-notice-empty",
    "console-notice-saved",
    "console-notice-no-agent",
    "console-notice-agent-exists",
    "console-notice-bad-name",
    "console-notice-weak-password",
    "console-notice-password-changed",
    "console-notice-password-reset",
    "console-notice-agent-disabled",
    "console-error-form-expired",
    "console-error-form-expired-text",
    "console-error-admins-only",
    "console-error-admins-only-text",
    "console-error-not-found",
    "console-error-not-found-text",
    "console-error-too-many-pages",
    "console-error-too-many-pages-text",
    "console-error-bad-request",
    "console-error-bad-request-text",
    "console-error-internal",
    "console-error-internal-text",
    "console-queue-waiting",
    "console-queue-empty",
    "console-queue-page-empty",
    "console-queue-no-languages",
    "console-queue-show-mine",
    "console-queue-showing-mine",
    "console-queue-show-all",
    "console-queue-ticket",
    "console-queue-issue",
    "console-queue-order",
    "console-queue-language",
    "console-queue-channel",
    "console-queue-waiting-for",
    "console-queue-last-message",
    "console-queue-high",
    "console-queue-low-trust",
    "console-queue-low-trust-why",
    "console-queue-pages",
    "console-queue-previous",
    "console-queue-next",
    "console-queue-page",
    "console-queue-assigned-to-you",
    "console-queue-assigned-to-others",
    "console-queue-none",
    "console-queue-with-agent",
    "console-queue-truncated",
    "console-ticket-title",
    "console-ticket-high",
    "console-ticket-customer",
    "console-ticket-linked-customer",
    "console-ticket-linked-contacts",
    "console-ticket-unlink-customer",
    "console-ticket-erase-customer",
    "console-notice-customer-unlinked",
    "console-notice-customer-erased",
    "console-ticket-order-status",
    "console-order-status",
    "console-ticket-order-items",
    "console-order-item",
    "console-ticket-order-tracking",
    "console-ticket-customer-on",
    "console-ticket-opened",
    "console-ticket-opened-at",
    "console-ticket-agent",
    "console-ticket-nobody",
    "console-ticket-description",
    "console-ticket-photos",
    "console-ticket-photo",
    "console-ticket-rating",
    "console-ticket-resolve",
    "console-ticket-assign-to",
    "console-ticket-assign",
    "console-ticket-release",
    "console-ticket-reopen",
    "console-ticket-conversation",
    "console-ticket-reply-label",
    "console-ticket-canned-label",
    "console-ticket-choose",
    "console-ticket-send",
    "console-ticket-claim-to-reply",
    "console-ticket-notes",
    "console-ticket-notes-hint",
    "console-ticket-undelivered",
    "console-ticket-undelivered-hint",
    "console-ticket-undelivered-bot",
    "console-ticket-note-label",
    "console-ticket-add-note",
    "console-author-customer",
    "console-author-bot",
    "console-author-agent",
    "console-author-system",
    "console-dashboard-last-days",
    "console-dashboard-csv",
    "console-dashboard-tickets",
    "console-dashboard-first-response",
    "console-dashboard-resolve",
    "console-dashboard-rating",
    "console-dashboard-self-service",
    "console-dashboard-none",
    "console-dashboard-tickets-chart",
    "console-dashboard-tickets-caption",
    "console-dashboard-ratings-chart",
    "console-canned-empty",
    "console-canned-title",
    "console-canned-text",
    "console-canned-new",
    "console-canned-add",
    "console-channel-telegram",
    "console-channel-vk",
    "console-channel-max",
    "console-channel-ozon",
    "console-channel-webchat",
    "console-channel-terminal",
    "console-translation-hint",
    "console-translation-original",
    "console-translation-unavailable",
    "console-translation-received",
    "console-translation-written",
    "console-preview-button",
    "console-preview-title",
    "console-preview-yours",
    "console-preview-translation",
    "console-preview-human",
    "console-preview-unavailable",
    "console-preview-send",
    "console-canned-language-versions",
    "console-canned-add-version",
    "console-agents-name",
    "console-agents-role",
    "console-agents-languages",
    "console-agents-status",
    "console-agents-admin",
    "console-agents-agent",
    "console-agents-active",
    "console-agents-disabled",
    "console-agents-disable",
    "console-agents-new-password-for",
    "console-agents-reset-password",
    "console-agents-must-change",
    "console-agents-add-heading",
    "console-agents-password",
    "console-agents-add",
    "console-tokens-new",
    "console-tokens-acts-as",
    "console-tokens-expires",
    "console-tokens-last-used",
    "console-tokens-active",
    "console-tokens-expired",
    "console-tokens-revoked",
    "console-tokens-never",
    "console-tokens-revoke",
    "console-tokens-create-heading",
    "console-tokens-expiry",
    "console-tokens-create",
];

/// The label of an issue-type button, e.g. `issue-order`, `issue-wrong-item`.
pub fn issue_label(issue: IssueType) -> String {
    format!("issue-{}", issue.code().replace('_', "-"))
}

/// The name of a language in its own script, shown on the language picker, e.g. `language-ru`.
pub fn language_label(lang: Lang) -> String {
    format!("language-{}", lang.code())
}

/// The label of a rating button, e.g. `rating-5`.
pub fn rating_label(stars: u8) -> String {
    format!("rating-{stars}")
}

/// The label key of the button a customer pressed, from the `[data]` the engine logs for a
/// press; `None` for anything else.
pub fn pressed_button_label(logged: &str) -> Option<String> {
    use crate::core::message::Action;
    let data = logged.strip_prefix('[')?.strip_suffix(']')?;
    Some(match Action::decode(data)? {
        Action::Issue(issue) => issue_label(issue),
        Action::Rate(stars) => rating_label(stars),
        Action::Language(lang) => language_label(lang),
        Action::SkipPhoto => BUTTON_SKIP.to_owned(),
        Action::PhotosDone => BUTTON_DONE.to_owned(),
        Action::Helped => BUTTON_YES.to_owned(),
        Action::NotHelped => BUTTON_NO.to_owned(),
        Action::SkipComment => BUTTON_SKIP_COMMENT.to_owned(),
        Action::Human => BUTTON_HUMAN.to_owned(),
        Action::Menu => BUTTON_MENU.to_owned(),
        Action::WithdrawRequest => BUTTON_WITHDRAW.to_owned(),
        Action::Topic(intent) => intent.topic_key(),
    })
}

/// Every key the code can ask for: the fixed ones and the ones derived from enums.
pub fn all_keys() -> Vec<String> {
    let mut keys: Vec<String> = STATIC_KEYS.iter().map(|key| (*key).to_owned()).collect();
    keys.extend(IssueType::ALL.into_iter().map(issue_label));
    keys.extend(Lang::ALL.into_iter().map(language_label));
    keys.extend((1..=5).map(rating_label));
    keys.extend(Intent::ALL.into_iter().filter(|intent| intent.has_answer()).map(Intent::answer_key));
    keys.extend(Intent::ALL.into_iter().map(Intent::topic_key));
    keys.extend(CONSOLE_KEYS.iter().map(|key| (*key).to_owned()));
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn a_logged_press_names_its_button_and_text_does_not() {
        assert_eq!(pressed_button_label("[i:order]").as_deref(), Some("issue-order"));
        assert_eq!(pressed_button_label("[r:5]").as_deref(), Some("rating-5"));
        assert_eq!(pressed_button_label("[no]").as_deref(), Some(BUTTON_NO));
        assert_eq!(pressed_button_label("[not a button]"), None);
        assert_eq!(pressed_button_label("no"), None);
    }

    #[test]
    fn keys_are_unique_and_fluent_identifiers() {
        let keys = all_keys();
        let unique: HashSet<&String> = keys.iter().collect();
        assert_eq!(unique.len(), keys.len(), "a key is listed twice");
        for key in &keys {
            let mut chars = key.chars();
            assert!(chars.next().is_some_and(|c| c.is_ascii_lowercase()), "{key}");
            assert!(chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'), "{key}");
        }
    }
}
