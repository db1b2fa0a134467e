//! Who is mailed about what: the notification rules, switched per observatory by its
//! administrators, and opted out of (the optional ones) by each person in My account.

use crate::i18n::Msg;
use serde::{Deserialize, Serialize};

/// One kind of notification e-mail: an event of a request and who receives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NotifyRule {
    /// A request was opened: its reporter gets the number and a link.
    OpenedToReporter,
    /// A request was opened: the organization's support contacts get a copy.
    OpenedToContacts,
    /// A request was opened: staff are told (the assignee, else the queue address, else the
    /// agents).
    OpenedToStaff,
    /// The status changed: the reporter.
    StatusToReporter,
    /// The status changed: the support contacts.
    StatusToContacts,
    /// The status changed: the assignee.
    StatusToAssignee,
    /// Staff wrote a public message: the reporter.
    ReplyToReporter,
    /// Staff wrote a public message: the support contacts.
    ReplyToContacts,
    /// A client wrote: the assignee, else the queue.
    ClientMessageToStaff,
    /// A request was assigned: the new assignee.
    Assigned,
}

/// Who a rule writes to, which decides where a person sees it in My account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Clients,
    Staff,
}

impl NotifyRule {
    pub const ALL: [NotifyRule; 10] = [
        NotifyRule::OpenedToReporter,
        NotifyRule::OpenedToContacts,
        NotifyRule::OpenedToStaff,
        NotifyRule::StatusToReporter,
        NotifyRule::StatusToContacts,
        NotifyRule::StatusToAssignee,
        NotifyRule::ReplyToReporter,
        NotifyRule::ReplyToContacts,
        NotifyRule::ClientMessageToStaff,
        NotifyRule::Assigned,
    ];

    pub fn code(self) -> &'static str {
        match self {
            NotifyRule::OpenedToReporter => "opened_reporter",
            NotifyRule::OpenedToContacts => "opened_contacts",
            NotifyRule::OpenedToStaff => "opened_staff",
            NotifyRule::StatusToReporter => "status_reporter",
            NotifyRule::StatusToContacts => "status_contacts",
            NotifyRule::StatusToAssignee => "status_assignee",
            NotifyRule::ReplyToReporter => "reply_reporter",
            NotifyRule::ReplyToContacts => "reply_contacts",
            NotifyRule::ClientMessageToStaff => "client_message_staff",
            NotifyRule::Assigned => "assigned",
        }
    }

    pub fn from_code(code: &str) -> Option<NotifyRule> {
        NotifyRule::ALL.into_iter().find(|rule| rule.code() == code)
    }

    /// A person cannot opt out of what tells them about their own request (the guide's
    /// promise: every change of status is notified). An administrator can still switch it off
    /// for the whole observatory.
    pub fn essential(self) -> bool {
        matches!(
            self,
            NotifyRule::OpenedToReporter
                | NotifyRule::StatusToReporter
                | NotifyRule::ReplyToReporter
        )
    }

    pub fn audience(self) -> Audience {
        match self {
            NotifyRule::OpenedToStaff
            | NotifyRule::StatusToAssignee
            | NotifyRule::ClientMessageToStaff
            | NotifyRule::Assigned => Audience::Staff,
            _ => Audience::Clients,
        }
    }

    /// The rules whose checkbox was sent (a checkbox is sent only when ticked).
    pub fn checked(boxes: &[(NotifyRule, Option<String>)]) -> Vec<NotifyRule> {
        boxes
            .iter()
            .filter(|(_, value)| value.is_some())
            .map(|(rule, _)| *rule)
            .collect()
    }

    /// What the rule is called on the settings pages.
    pub fn label(self) -> Msg {
        match self {
            NotifyRule::OpenedToReporter => Msg::RuleOpenedToReporter,
            NotifyRule::OpenedToContacts => Msg::RuleOpenedToContacts,
            NotifyRule::OpenedToStaff => Msg::RuleOpenedToStaff,
            NotifyRule::StatusToReporter => Msg::RuleStatusToReporter,
            NotifyRule::StatusToContacts => Msg::RuleStatusToContacts,
            NotifyRule::StatusToAssignee => Msg::RuleStatusToAssignee,
            NotifyRule::ReplyToReporter => Msg::RuleReplyToReporter,
            NotifyRule::ReplyToContacts => Msg::RuleReplyToContacts,
            NotifyRule::ClientMessageToStaff => Msg::RuleClientMessageToStaff,
            NotifyRule::Assigned => Msg::RuleAssigned,
        }
    }
}

/// One rule as a settings page shows it: on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSwitch {
    pub rule: NotifyRule,
    pub on: bool,
}

/// An observatory's notification settings (administration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationSettings {
    /// Where staff notices go for requests without an assignee; empty: to every agent.
    pub queue_email: String,
    /// Every rule, in `NotifyRule::ALL` order.
    pub rules: Vec<RuleSwitch>,
}

/// What a person may choose in My account: the optional rules for people like them that
/// their observatory has switched on, each on unless they opted out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MyNotifications {
    pub rules: Vec<RuleSwitch>,
}

/// An observatory's life-cycle cadences (administration): hours between reminders, how many
/// reminders before the closure notice, hours between the notice and the closure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cadences {
    pub reminder_hours: i64,
    pub reminder_count: i64,
    pub closure_hours: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_has_its_own_code_and_comes_back_from_it() {
        for rule in NotifyRule::ALL {
            assert_eq!(NotifyRule::from_code(rule.code()), Some(rule));
        }
        let mut codes: Vec<_> = NotifyRule::ALL.iter().map(|r| r.code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), NotifyRule::ALL.len());
        assert_eq!(NotifyRule::from_code("everything"), None);
    }

    #[test]
    fn only_what_concerns_a_persons_own_request_is_essential() {
        let essential: Vec<_> = NotifyRule::ALL
            .into_iter()
            .filter(|r| r.essential())
            .collect();
        assert_eq!(
            essential,
            [
                NotifyRule::OpenedToReporter,
                NotifyRule::StatusToReporter,
                NotifyRule::ReplyToReporter
            ]
        );
        assert!(essential.iter().all(|r| r.audience() == Audience::Clients));
    }
}
