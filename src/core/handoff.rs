//! Rules of the human queue, as pure decisions. The store carries them out atomically (a
//! claim is one conditional UPDATE), but what is allowed lives here, testable without a database.

use crate::core::message::Priority;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    Queued,
    Assigned,
    Resolved,
}

impl TicketStatus {
    pub const ALL: [TicketStatus; 3] = [TicketStatus::Queued, TicketStatus::Assigned, TicketStatus::Resolved];

    pub fn code(self) -> &'static str {
        match self {
            TicketStatus::Queued => "queued",
            TicketStatus::Assigned => "assigned",
            TicketStatus::Resolved => "resolved",
        }
    }

    pub fn from_code(code: &str) -> Option<TicketStatus> {
        TicketStatus::ALL.into_iter().find(|status| status.code() == code)
    }
}

/// What an agent asking to claim a ticket gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimDecision {
    Claim,
    AlreadyYours,
    TakenBy(String),
    Closed,
}

pub fn decide_claim(status: TicketStatus, assignee: Option<&str>, agent: &str) -> ClaimDecision {
    match (status, assignee) {
        (TicketStatus::Queued, _) => ClaimDecision::Claim,
        (TicketStatus::Assigned, Some(owner)) if owner == agent => ClaimDecision::AlreadyYours,
        (TicketStatus::Assigned, Some(owner)) => ClaimDecision::TakenBy(owner.to_owned()),
        (TicketStatus::Assigned, None) => ClaimDecision::Claim,
        (TicketStatus::Resolved, _) => ClaimDecision::Closed,
    }
}

/// Who asks for a change to a ticket: an agent, and whether they are an admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub name: String,
    pub admin: bool,
}

impl Actor {
    pub fn new(name: &str, admin: bool) -> Actor {
        Actor { name: name.to_owned(), admin }
    }

    /// Whether this actor may release, transfer, resolve, reopen or reply to a ticket that
    /// `holder` holds (or, resolved, last held). Only the holder and admins may: an agent
    /// cannot take over a colleague's customer without a claim the colleague can see, and a
    /// ticket nobody holds is claimed before it is worked on.
    pub fn may_act_on(&self, holder: Option<&str>) -> bool {
        self.admin || holder == Some(self.name.as_str())
    }
}

/// Which transitions an agent may make by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentMove {
    Resolve,
    Reopen,
    Transfer,
    Release,
}

impl AgentMove {
    pub fn name(self) -> &'static str {
        match self {
            AgentMove::Resolve => "resolve",
            AgentMove::Reopen => "reopen",
            AgentMove::Transfer => "transfer",
            AgentMove::Release => "release",
        }
    }
}

pub fn move_allowed(status: TicketStatus, agent_move: AgentMove) -> bool {
    match agent_move {
        AgentMove::Resolve => matches!(status, TicketStatus::Queued | TicketStatus::Assigned),
        AgentMove::Reopen => status == TicketStatus::Resolved,
        AgentMove::Transfer => matches!(status, TicketStatus::Queued | TicketStatus::Assigned),
        AgentMove::Release => status == TicketStatus::Assigned,
    }
}

/// Queue order: high priority first, then whoever has waited longest (smaller `created_at`).
pub fn queue_order(a: (Priority, i64), b: (Priority, i64)) -> Ordering {
    b.0.cmp(&a.0).then(a.1.cmp(&b.1))
}

/// The expected wait for a new ticket: the median of recent waits-to-claim (seconds), scaled by
/// how many tickets are ahead per agent on duty. `None` when there is no history to go on.
pub fn expected_wait_minutes(recent_waits_secs: &[i64], ahead: u32, agents_on_duty: u32) -> Option<u32> {
    if recent_waits_secs.is_empty() {
        return None;
    }
    let mut waits = recent_waits_secs.to_vec();
    waits.sort_unstable();
    let median = waits[waits.len() / 2].max(0);
    let per_agent = u64::from(ahead / agents_on_duty.max(1) + 1);
    let minutes = (median as u64 * per_agent).div_ceil(60);
    Some(u32::try_from(minutes.max(1)).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims() {
        assert_eq!(decide_claim(TicketStatus::Queued, None, "ann"), ClaimDecision::Claim);
        assert_eq!(decide_claim(TicketStatus::Assigned, Some("ann"), "ann"), ClaimDecision::AlreadyYours);
        assert_eq!(
            decide_claim(TicketStatus::Assigned, Some("bob"), "ann"),
            ClaimDecision::TakenBy("bob".into())
        );
        assert_eq!(decide_claim(TicketStatus::Resolved, Some("bob"), "ann"), ClaimDecision::Closed);
    }

    #[test]
    fn moves() {
        assert!(move_allowed(TicketStatus::Assigned, AgentMove::Resolve));
        assert!(!move_allowed(TicketStatus::Resolved, AgentMove::Resolve));
        assert!(move_allowed(TicketStatus::Resolved, AgentMove::Reopen));
        assert!(!move_allowed(TicketStatus::Queued, AgentMove::Reopen));
        assert!(!move_allowed(TicketStatus::Queued, AgentMove::Release));
    }

    #[test]
    fn only_the_holder_or_an_admin_acts_on_a_ticket() {
        let (ann, bob, root) = (Actor::new("ann", false), Actor::new("bob", false), Actor::new("root", true));
        assert!(ann.may_act_on(Some("ann")));
        assert!(!bob.may_act_on(Some("ann")), "a colleague's ticket");
        assert!(!bob.may_act_on(None), "a queued ticket is claimed first");
        assert!(root.may_act_on(Some("ann")) && root.may_act_on(None));
        assert!(!Actor::new("Ann", false).may_act_on(Some("ann")), "names are exact");
    }

    #[test]
    fn high_priority_first_then_oldest() {
        let mut queue =
            vec![(Priority::Normal, 5), (Priority::High, 9), (Priority::Normal, 1), (Priority::High, 3)];
        queue.sort_by(|a, b| queue_order(*a, *b));
        assert_eq!(
            queue,
            vec![(Priority::High, 3), (Priority::High, 9), (Priority::Normal, 1), (Priority::Normal, 5)]
        );
    }

    #[test]
    fn expected_wait() {
        assert_eq!(expected_wait_minutes(&[], 3, 1), None);
        assert_eq!(expected_wait_minutes(&[60, 120, 600], 0, 1), Some(2));
        assert_eq!(expected_wait_minutes(&[60, 120, 600], 3, 1), Some(8));
        assert_eq!(expected_wait_minutes(&[60, 120, 600], 3, 2), Some(4));
        assert_eq!(expected_wait_minutes(&[1], 0, 1), Some(1));
    }
}
