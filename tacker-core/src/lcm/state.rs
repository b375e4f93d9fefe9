//! The state machine of an LCM operation occurrence (SOL003 clause 5.6.2.2), as a pure
//! function that tests can enumerate.

use crate::model::LcmOperationStateType as State;

/// What happens to an operation occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpEvent {
    /// The grant was given (or not needed): the work starts.
    Granted,
    /// The NFVO refused the grant.
    GrantRefused,
    /// Every step succeeded.
    Succeeded,
    /// A step failed (or the VNFM stopped during it).
    StepFailed,
    /// The client asked to retry.
    Retry,
    /// The client asked to roll back.
    Rollback,
    /// The rollback succeeded.
    RollbackSucceeded,
    /// The rollback failed (or the VNFM stopped during it).
    RollbackFailed,
    /// The client declared the operation failed for good.
    Fail,
    /// The client cancelled the operation.
    Cancel,
}

impl OpEvent {
    /// Every event.
    pub const ALL: [Self; 10] = [
        Self::Granted,
        Self::GrantRefused,
        Self::Succeeded,
        Self::StepFailed,
        Self::Retry,
        Self::Rollback,
        Self::RollbackSucceeded,
        Self::RollbackFailed,
        Self::Fail,
        Self::Cancel,
    ];
}

/// The state an event leads to, or `None` when the event is not allowed in `state`
/// (the API answers 409 Conflict for a task the state does not allow).
///
/// - STARTING: the grant is asked for; granted → PROCESSING, refused or cancelled →
///   ROLLED_BACK.
/// - PROCESSING: success → COMPLETED; a failure or a cancel → FAILED_TEMP.
/// - FAILED_TEMP: retry → PROCESSING, rollback → ROLLING_BACK, fail → FAILED.
/// - ROLLING_BACK: success → ROLLED_BACK; a failure or a cancel → FAILED_TEMP.
/// - COMPLETED, FAILED and ROLLED_BACK are final.
pub fn transition(state: State, event: OpEvent) -> Option<State> {
    use OpEvent as E;
    Some(match (state, event) {
        (State::Starting, E::Granted) => State::Processing,
        (State::Starting, E::GrantRefused | E::Cancel) => State::RolledBack,
        (State::Processing, E::Succeeded) => State::Completed,
        (State::Processing, E::StepFailed | E::Cancel) => State::FailedTemp,
        (State::FailedTemp, E::Retry) => State::Processing,
        (State::FailedTemp, E::Rollback) => State::RollingBack,
        (State::FailedTemp, E::Fail) => State::Failed,
        (State::RollingBack, E::RollbackSucceeded) => State::RolledBack,
        (State::RollingBack, E::RollbackFailed | E::Cancel) => State::FailedTemp,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use OpEvent as E;

    /// Every (state, event) pair and its outcome: the whole machine, written out.
    #[test]
    fn every_state_and_event_pair_follows_sol003() {
        use State::*;
        let table: [(State, [Option<State>; 10]); 7] = [
            //           Granted           Refused           Succeeded        StepFailed        Retry             Rollback           RbSucceeded       RbFailed          Fail          Cancel
            (
                Starting,
                [
                    Some(Processing),
                    Some(RolledBack),
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    Some(RolledBack),
                ],
            ),
            (
                Processing,
                [
                    None,
                    None,
                    Some(Completed),
                    Some(FailedTemp),
                    None,
                    None,
                    None,
                    None,
                    None,
                    Some(FailedTemp),
                ],
            ),
            (Completed, [None; 10]),
            (
                FailedTemp,
                [
                    None,
                    None,
                    None,
                    None,
                    Some(Processing),
                    Some(RollingBack),
                    None,
                    None,
                    Some(Failed),
                    None,
                ],
            ),
            (Failed, [None; 10]),
            (
                RollingBack,
                [
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    Some(RolledBack),
                    Some(FailedTemp),
                    None,
                    Some(FailedTemp),
                ],
            ),
            (RolledBack, [None; 10]),
        ];
        assert_eq!(table.len(), State::ALL.len(), "every state is in the table");
        for (state, outcomes) in table {
            for (event, expected) in E::ALL.into_iter().zip(outcomes) {
                assert_eq!(transition(state, event), expected, "{state} + {event:?}");
            }
        }
    }

    #[test]
    fn final_states_accept_nothing_and_every_other_state_can_end() {
        for state in State::ALL {
            let next: Vec<State> = E::ALL
                .iter()
                .filter_map(|e| transition(state, *e))
                .collect();
            if state.is_final() {
                assert!(next.is_empty(), "{state} is final");
            } else {
                assert!(!next.is_empty(), "{state} can move on");
            }
        }
    }
}
