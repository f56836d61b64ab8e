//! The dialog's view of one customer message: [`understand`] with the step's context, and the
//! questions the dialog asks of the result.

use super::Ctx;
use crate::core::faq::{FaqAction, Intent};
use crate::core::order_id::OrderId;
use crate::core::understanding::{self, Understanding, understand};

pub(super) struct Reading {
    understanding: Understanding,
    question: bool,
}

impl Reading {
    pub(super) fn of(text: &str, ctx: &Ctx<'_>) -> Reading {
        Reading {
            understanding: understand(text, ctx.lang, ctx.order_ids, ctx.faq),
            question: understanding::is_question(text),
        }
    }

    /// A person asked for in so many words ("operator", "人工"), or in a longer sentence the
    /// classifier knows as `contact_human_agent`.
    pub(super) fn wants_person(&self) -> bool {
        self.understanding.wants_person || self.intent() == Some(Intent::ContactHumanAgent)
    }

    /// Only the short, unmistakable ways of asking: where any text is a description, a long
    /// sentence that mentions an operator is about the operator.
    pub(super) fn asks_for_person_in_few_words(&self) -> bool {
        self.understanding.wants_person
    }

    pub(super) fn order_id(&self) -> Option<OrderId> {
        self.understanding.entities.order_ids.first().cloned()
    }

    pub(super) fn email(&self) -> Option<String> {
        self.understanding.entities.emails.first().cloned()
    }

    pub(super) fn phone(&self) -> Option<String> {
        self.understanding.entities.phones.first().cloned()
    }

    pub(super) fn only_order_number(&self) -> bool {
        self.understanding.only_order_number
    }

    pub(super) fn intent(&self) -> Option<Intent> {
        self.understanding.intent.map(|found| found.intent)
    }

    pub(super) fn action(&self) -> Option<FaqAction> {
        self.intent().map(Intent::action)
    }

    pub(super) fn close_call(&self) -> Option<[Intent; 2]> {
        self.understanding.close_call
    }

    pub(super) fn is_question(&self) -> bool {
        self.question
    }
}

/// Whether the customer's words so far describe the problem well enough that asking for a
/// description would only make them repeat themselves.
pub(super) fn says_enough(text: &str, ctx: &Ctx<'_>) -> bool {
    understanding::says_enough(text, ctx.lang, ctx.order_ids)
}

pub(super) use understanding::asks_for_language;
