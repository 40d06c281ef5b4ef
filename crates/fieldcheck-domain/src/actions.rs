//! What a person may do to a problem now: the buttons a screen offers. Derived only from
//! [`lifecycle::precondition`], so a screen never offers what the lifecycle would refuse, nor
//! hides what it would accept (property-tested in `tests/actions_props.rs`).

use serde::{Deserialize, Serialize};

use crate::lifecycle;
use crate::problem::Problem;
use crate::role::Actor;

/// An action on an existing problem, as the screens name it (the tag of the device's
/// `ProblemAction`), in the order a screen offers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ProblemActionKind {
    File,
    Reject,
    Dispatch,
    Accept,
    Return,
    Rectify,
    RequestExtension,
    DecideExtension,
    Verify,
    Close,
    Recheck,
    AddPhotos,
    Edit,
}

impl ProblemActionKind {
    /// Every action, in the order a screen offers them.
    pub const ALL: [ProblemActionKind; 13] = {
        use ProblemActionKind::*;
        [
            File,
            Reject,
            Dispatch,
            Accept,
            Return,
            Rectify,
            RequestExtension,
            DecideExtension,
            Verify,
            Close,
            Recheck,
            AddPhotos,
            Edit,
        ]
    };

    /// The tag, as in JSON.
    pub fn as_str(self) -> &'static str {
        use ProblemActionKind::*;
        match self {
            File => "file",
            Reject => "reject",
            Dispatch => "dispatch",
            Accept => "accept",
            Return => "return",
            Rectify => "rectify",
            RequestExtension => "request_extension",
            DecideExtension => "decide_extension",
            Verify => "verify",
            Close => "close",
            Recheck => "recheck",
            AddPhotos => "add_photos",
            Edit => "edit",
        }
    }

    /// The kind of the event the action sends.
    pub fn event_kind(self) -> &'static str {
        use ProblemActionKind::*;
        match self {
            File => "problem.filed",
            Reject => "problem.rejected",
            Dispatch => "problem.dispatched",
            Accept => "problem.accepted",
            Return => "problem.returned",
            Rectify => "problem.rectified",
            RequestExtension => "problem.extension_requested",
            DecideExtension => "problem.extension_decided",
            Verify => "problem.verified",
            Close => "problem.closed",
            Recheck => "problem.rechecked",
            AddPhotos => "problem.photos_added",
            Edit => "problem.edited",
        }
    }

    pub fn parse(s: &str) -> Option<ProblemActionKind> {
        ProblemActionKind::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// The actions `actor` may take on `p` now, in the order a screen offers them: those for which
/// some well-formed request (a reason given, an after-photo attached, a later deadline) would be
/// accepted by the lifecycle. `add_photos` is offered whenever evidence photos would be
/// accepted; after-photos remain for the unit and the office.
pub fn actions_offered(p: &Problem, actor: &Actor) -> Vec<ProblemActionKind> {
    ProblemActionKind::ALL
        .into_iter()
        .filter(|a| lifecycle::precondition(p, a.event_kind(), actor).is_ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_match_serde_and_parse_back() {
        for a in ProblemActionKind::ALL {
            assert_eq!(
                serde_json::to_value(a).unwrap(),
                serde_json::Value::String(a.as_str().into())
            );
            assert_eq!(ProblemActionKind::parse(a.as_str()), Some(a));
            assert!(a.event_kind().starts_with("problem."));
        }
    }
}
