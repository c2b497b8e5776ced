//! The reunification workflow: open -> tracing -> match_proposed -> verified -> reunified -> closed.
//! A request can be closed from any earlier step (with a reason); a failed verification goes back to
//! tracing. Anything else is FAILED_PRECONDITION.

use haven_proto::family_tracing::RequestStatus;

pub(crate) fn status_name(status: RequestStatus) -> &'static str {
    match status {
        RequestStatus::Open => "open",
        RequestStatus::Tracing => "tracing",
        RequestStatus::MatchProposed => "match_proposed",
        RequestStatus::Verified => "verified",
        RequestStatus::Reunified => "reunified",
        RequestStatus::Closed => "closed",
        RequestStatus::Unspecified => "unspecified",
    }
}

pub(crate) fn parse_status(name: &str) -> RequestStatus {
    match name {
        "open" => RequestStatus::Open,
        "tracing" => RequestStatus::Tracing,
        "match_proposed" => RequestStatus::MatchProposed,
        "verified" => RequestStatus::Verified,
        "reunified" => RequestStatus::Reunified,
        "closed" => RequestStatus::Closed,
        _ => RequestStatus::Unspecified,
    }
}

/// Whether the workflow allows `from -> to`.
pub(crate) fn allowed(from: RequestStatus, to: RequestStatus) -> bool {
    use RequestStatus::*;
    matches!(
        (from, to),
        (Open, Tracing)
            | (Tracing, MatchProposed)
            | (MatchProposed, Verified)
            | (MatchProposed, Tracing)
            | (Verified, Reunified)
            | (Reunified, Closed)
            | (Open | Tracing | MatchProposed | Verified, Closed)
    )
}

/// Requests still looking for children: new registrations are matched against them.
pub(crate) const SEARCHING: [RequestStatus; 3] = [
    RequestStatus::Open,
    RequestStatus::Tracing,
    RequestStatus::MatchProposed,
];

pub(crate) fn is_searching(status: RequestStatus) -> bool {
    SEARCHING.contains(&status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workflow_moves_forward_one_step_at_a_time() {
        use RequestStatus::*;
        let path = [Open, Tracing, MatchProposed, Verified, Reunified, Closed];
        for pair in path.windows(2) {
            assert!(allowed(pair[0], pair[1]), "{:?} -> {:?}", pair[0], pair[1]);
        }
        assert!(!allowed(Open, Verified), "no skipping verification");
        assert!(!allowed(Open, Reunified));
        assert!(!allowed(Closed, Open), "closed is final");
        assert!(!allowed(Reunified, Tracing));
        assert!(
            allowed(MatchProposed, Tracing),
            "a failed verification resumes tracing"
        );
        for status in path {
            assert_eq!(parse_status(status_name(status)), status);
        }
    }
}
