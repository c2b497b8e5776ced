//! Every role against every RPC and data class, through the gateway. The table below is the
//! specification (DESIGN.md §3); the test fails on any unexpected allow, deny or visible class.

use std::collections::BTreeSet;

use haven_proto::common::DataClass;
use haven_proto::identity::child_identity_client::ChildIdentityClient;
use haven_proto::identity::identity_audit_client::IdentityAuditClient;
use haven_proto::identity::{
    AnswerDuplicateReviewRequest, BreakGlassRequest, Child, ChildView, DuplicateReviewKind,
    DuplicateReviewStatus, EraseChildRequest, GetChildRequest, ListAuditEntriesRequest,
    ListChildrenRequest, RequestDuplicateReviewRequest, SearchChildrenRequest, UpdateChildRequest,
};
use haven_tests::fixtures::{case_child, learner, register};
use haven_tests::{TestSuite, authed};
use tonic::Code;

/// The children every cell is tried against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rec {
    /// A case of caseworker `cw-owner` at agency-a, with consent for tracing.
    Consenting,
    /// A case of the same caseworker without consent for tracing.
    Private,
    /// A learner registered by an educator of school-1.
    Learner,
}

const I: &str = "identity";
const W: &str = "whereabouts";
const P: &str = "protection";

/// The classes one caller sees of a record; `None` means NOT_FOUND.
type Visible = Option<&'static [&'static str]>;

/// What one caller may do with each record.
struct Profile {
    name: &'static str,
    role: &'static str,
    sub: &'static str,
    agency: &'static str,
    /// None: the gateway refuses every read RPC (PERMISSION_DENIED).
    reads: Option<[(Rec, Visible); 3]>,
    register_learner: Code,
    register_case: Code,
    update_case_protection: Code,
    update_learner_identity: Code,
    /// ListAuditEntries for the consenting case.
    list_audit: Code,
    /// EraseChild on a case registered for the attempt.
    erase: Code,
    /// BreakGlass on the private case (tried last: it changes what this caller sees).
    break_glass: Code,
    /// RequestDuplicateReview and AnswerDuplicateReview on an unknown notice and review: refused by the
    /// rule table, or NOT_FOUND for a role that may write protection (a notice or review it does not
    /// hold answers the same; duplicates.rs covers the holders).
    duplicate_review: Code,
}

const FULL: Visible = Some(&[I, W, P]);
const IDENTITY_ONLY: Visible = Some(&[I]);
const NONE: Visible = None;

fn profiles() -> Vec<Profile> {
    use Code::{NotFound, Ok, PermissionDenied as Denied};
    use Rec::*;
    vec![
        Profile {
            name: "caseworker who owns the cases",
            role: "caseworker",
            sub: "cw-owner",
            agency: "agency-a",
            reads: Some([(Consenting, FULL), (Private, FULL), (Learner, NONE)]),
            register_learner: Ok,
            register_case: Ok,
            update_case_protection: Ok,
            break_glass: Denied,
            duplicate_review: NotFound,
            erase: Denied,
            list_audit: Denied,
            update_learner_identity: NotFound,
        },
        Profile {
            name: "caseworker colleague in the same agency",
            role: "caseworker",
            sub: "cw-colleague",
            agency: "agency-a",
            reads: Some([(Consenting, NONE), (Private, NONE), (Learner, NONE)]),
            register_learner: Ok,
            register_case: Ok,
            update_case_protection: NotFound,
            break_glass: Denied,
            duplicate_review: NotFound,
            erase: Denied,
            list_audit: Denied,
            update_learner_identity: NotFound,
        },
        Profile {
            name: "supervisor of the same agency",
            role: "supervisor",
            sub: "sup-a",
            agency: "agency-a",
            reads: Some([(Consenting, FULL), (Private, FULL), (Learner, NONE)]),
            register_learner: Ok,
            register_case: Ok,
            update_case_protection: Ok,
            break_glass: Ok,
            duplicate_review: NotFound,
            erase: Denied,
            list_audit: Denied,
            update_learner_identity: NotFound,
        },
        Profile {
            name: "supervisor of another agency",
            role: "supervisor",
            sub: "sup-b",
            agency: "agency-b",
            reads: Some([(Consenting, NONE), (Private, NONE), (Learner, NONE)]),
            register_learner: Ok,
            register_case: Ok,
            update_case_protection: NotFound,
            break_glass: Ok,
            duplicate_review: NotFound,
            erase: Denied,
            list_audit: Denied,
            update_learner_identity: NotFound,
        },
        Profile {
            name: "reunification officer of the same agency",
            role: "reunification_officer",
            sub: "ro-a",
            agency: "agency-a",
            reads: Some([(Consenting, FULL), (Private, FULL), (Learner, NONE)]),
            register_learner: Denied,
            register_case: Denied,
            update_case_protection: Denied,
            break_glass: Denied,
            duplicate_review: Denied,
            erase: Denied,
            list_audit: Denied,
            update_learner_identity: Denied,
        },
        Profile {
            name: "reunification officer of another agency",
            role: "reunification_officer",
            sub: "ro-b",
            agency: "agency-b",
            reads: Some([
                (Consenting, IDENTITY_ONLY),
                (Private, NONE),
                (Learner, NONE),
            ]),
            register_learner: Denied,
            register_case: Denied,
            update_case_protection: Denied,
            break_glass: Denied,
            duplicate_review: Denied,
            erase: Denied,
            list_audit: Denied,
            update_learner_identity: Denied,
        },
        Profile {
            name: "educator of the learner's school",
            role: "educator",
            sub: "teacher-2",
            agency: "school-1",
            reads: Some([
                (Consenting, NONE),
                (Private, NONE),
                (Learner, IDENTITY_ONLY),
            ]),
            register_learner: Ok,
            register_case: Denied,
            update_case_protection: Denied,
            break_glass: Denied,
            duplicate_review: Denied,
            erase: Denied,
            list_audit: Denied,
            update_learner_identity: Ok,
        },
        Profile {
            name: "educator of another school",
            role: "educator",
            sub: "teacher-9",
            agency: "school-9",
            reads: Some([(Consenting, NONE), (Private, NONE), (Learner, NONE)]),
            register_learner: Ok,
            register_case: Denied,
            update_case_protection: Denied,
            break_glass: Denied,
            duplicate_review: Denied,
            erase: Denied,
            list_audit: Denied,
            update_learner_identity: NotFound,
        },
        Profile {
            name: "partner without referrals",
            role: "partner",
            sub: "ngo-client",
            agency: "agency-p",
            reads: Some([(Consenting, NONE), (Private, NONE), (Learner, NONE)]),
            register_learner: Denied,
            register_case: Denied,
            update_case_protection: Denied,
            break_glass: Denied,
            duplicate_review: Denied,
            erase: Denied,
            list_audit: Denied,
            update_learner_identity: Denied,
        },
        Profile {
            name: "learning platform",
            role: "lms",
            sub: "lms-client",
            agency: "school-1",
            reads: None,
            register_learner: Denied,
            register_case: Denied,
            update_case_protection: Denied,
            break_glass: Denied,
            duplicate_review: Denied,
            erase: Denied,
            list_audit: Denied,
            update_learner_identity: Denied,
        },
        Profile {
            name: "auditor",
            role: "auditor",
            sub: "aud",
            agency: "agency-a",
            reads: None,
            register_learner: Denied,
            register_case: Denied,
            update_case_protection: Denied,
            break_glass: Denied,
            duplicate_review: Denied,
            erase: Denied,
            list_audit: Ok,
            update_learner_identity: Denied,
        },
        Profile {
            name: "the tracing service's own principal, calling the gateway",
            role: "tracing_service",
            sub: "service:family-tracing",
            agency: "haven:family-tracing",
            reads: None,
            register_learner: Denied,
            register_case: Denied,
            update_case_protection: Denied,
            break_glass: Denied,
            duplicate_review: Denied,
            erase: Denied,
            list_audit: Denied,
            update_learner_identity: Denied,
        },
        Profile {
            name: "admin",
            role: "admin",
            sub: "adm",
            agency: "agency-a",
            reads: None,
            register_learner: Denied,
            register_case: Denied,
            update_case_protection: Denied,
            break_glass: Denied,
            duplicate_review: Denied,
            erase: Ok,
            list_audit: Denied,
            update_learner_identity: Denied,
        },
    ]
}

fn classes_of(view: &ChildView) -> BTreeSet<&'static str> {
    let child = view.child.as_ref();
    let mut seen = BTreeSet::new();
    if child.and_then(|c| c.identity.as_ref()).is_some() {
        seen.insert(I);
    }
    if child.and_then(|c| c.whereabouts.as_ref()).is_some() {
        seen.insert(W);
    }
    if child.and_then(|c| c.protection.as_ref()).is_some() {
        seen.insert(P);
    }
    seen
}

fn withheld_of(view: &ChildView) -> BTreeSet<&'static str> {
    view.withheld
        .iter()
        .map(|c| match DataClass::try_from(*c) {
            Ok(DataClass::Identity) => I,
            Ok(DataClass::Whereabouts) => W,
            Ok(DataClass::Protection) => P,
            _ => "other",
        })
        .collect()
}

/// The three records every cell is tried against: two cases of `cw-owner` (with and without consent
/// for tracing) and a learner of school-1, all of the family `family`.
async fn register_records(
    client: &mut ChildIdentityClient<tonic::transport::Channel>,
    owner: &str,
    teacher: &str,
    family: &str,
) -> std::collections::BTreeMap<Rec, String> {
    let mut ids = std::collections::BTreeMap::new();
    for (rec, token, child) in [
        (Rec::Consenting, owner, case_child("Hamdi", family, true)),
        (Rec::Private, owner, case_child("Nimco", family, false)),
        (Rec::Learner, teacher, learner("Sagal", family)),
    ] {
        let view = client
            .register_child(authed(token, register(child)))
            .await
            .expect("setup")
            .into_inner();
        ids.insert(rec, view.child.and_then(|c| c.meta).expect("meta").id);
    }
    ids
}

/// Records a mismatch between the code an RPC gave and the table's.
fn check(failures: &mut Vec<String>, profile: &str, rpc: &str, got: Code, want: Code) {
    if got != want {
        failures.push(format!("{profile}: {rpc} gave {got:?}, want {want:?}"));
    }
}

/// The version of a record as `token` reads it.
async fn version_of(
    client: &mut ChildIdentityClient<tonic::transport::Channel>,
    token: &str,
    id: &str,
) -> i64 {
    client
        .get_child(authed(token, GetChildRequest { id: id.into() }))
        .await
        .expect("the reference reader sees the record")
        .into_inner()
        .child
        .and_then(|c| c.meta)
        .expect("meta")
        .version
}

fn code_of<T>(result: &Result<T, tonic::Status>) -> Code {
    match result {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

#[tokio::test]
async fn every_role_sees_exactly_its_cells() {
    let t = TestSuite::start().await;
    let mut client = t.client();
    let owner = t.token("caseworker", "cw-owner", "agency-a");
    let teacher = t.token("educator", "teacher-1", "school-1");
    let ids = register_records(&mut client, &owner, &teacher, "Matrixfamily").await;

    let mut failures = Vec::new();
    for profile in profiles() {
        let token = t.token(profile.role, profile.sub, profile.agency);
        let mut expected_visible = BTreeSet::new();
        // GetChild, one cell per record and class.
        for (rec, id) in &ids {
            let result = client
                .get_child(authed(&token, GetChildRequest { id: id.clone() }))
                .await;
            let expected = profile
                .reads
                .map(|reads| reads.iter().find(|(r, _)| r == rec).and_then(|(_, c)| *c));
            match (expected, result) {
                (None, Err(status)) if status.code() == Code::PermissionDenied => {}
                (Some(None), Err(status)) if status.code() == Code::NotFound => {}
                (Some(Some(classes)), Ok(view)) => {
                    let view = view.into_inner();
                    let want: BTreeSet<&str> = classes.iter().copied().collect();
                    let withheld_want: BTreeSet<&str> = [I, W, P]
                        .into_iter()
                        .filter(|c| !want.contains(c))
                        .collect();
                    if classes_of(&view) != want || withheld_of(&view) != withheld_want {
                        failures.push(format!(
                            "{}: GetChild({rec:?}) returned {:?} withheld {:?}, want {want:?}",
                            profile.name,
                            classes_of(&view),
                            withheld_of(&view)
                        ));
                    }
                    expected_visible.insert(id.clone());
                }
                (want, got) => failures.push(format!(
                    "{}: GetChild({rec:?}) gave {:?}, want {want:?}",
                    profile.name,
                    code_of(&got)
                )),
            }
        }
        // ListChildren and SearchChildren show exactly what GetChild shows.
        let listed = client
            .list_children(authed(&token, ListChildrenRequest::default()))
            .await;
        let searched = client
            .search_children(authed(
                &token,
                SearchChildrenRequest {
                    query: "Matrixfamily".into(),
                    page: None,
                },
            ))
            .await;
        for (rpc, outcome) in [
            ("ListChildren", listed.map(|r| r.into_inner().children)),
            ("SearchChildren", searched.map(|r| r.into_inner().children)),
        ] {
            match (profile.reads.is_some(), outcome) {
                (false, Err(status)) if status.code() == Code::PermissionDenied => {}
                (true, Ok(children)) => {
                    let got: BTreeSet<String> = children
                        .iter()
                        .filter_map(|v| v.child.as_ref()?.meta.as_ref().map(|m| m.id.clone()))
                        .filter(|id| ids.values().any(|known| known == id))
                        .collect();
                    if got != expected_visible {
                        failures.push(format!(
                            "{}: {rpc} showed {} records, want {}",
                            profile.name,
                            got.len(),
                            expected_visible.len()
                        ));
                    }
                }
                (allowed, got) => failures.push(format!(
                    "{}: {rpc} gave {:?}, allowed={allowed}",
                    profile.name,
                    code_of(&got)
                )),
            }
        }
        // RegisterChild with identity only, and with a full case.
        let got = code_of(
            &client
                .register_child(authed(&token, register(learner("Probe", "Learner"))))
                .await,
        );
        check(
            &mut failures,
            profile.name,
            "RegisterChild(learner)",
            got,
            profile.register_learner,
        );
        let got = code_of(
            &client
                .register_child(authed(&token, register(case_child("Probe", "Case", false))))
                .await,
        );
        check(
            &mut failures,
            profile.name,
            "RegisterChild(case)",
            got,
            profile.register_case,
        );
        // UpdateChild on the protection of a case, and on the identity of the learner.
        let supervisor = t.token("supervisor", "sup-a", "agency-a");
        let case_version = version_of(&mut client, &supervisor, &ids[&Rec::Private]).await;
        let got = code_of(
            &client
                .update_child(authed(
                    &token,
                    UpdateChildRequest {
                        id: ids[&Rec::Private].clone(),
                        expected_version: case_version,
                        child: Some(case_child("Nimco", "Matrixfamily", false)),
                        update_mask: Some(prost_types::FieldMask {
                            paths: vec!["protection.risk_level".into()],
                        }),
                    },
                ))
                .await,
        );
        check(
            &mut failures,
            profile.name,
            "UpdateChild(case protection)",
            got,
            profile.update_case_protection,
        );
        let learner_version = version_of(&mut client, &teacher, &ids[&Rec::Learner]).await;
        let got = code_of(
            &client
                .update_child(authed(
                    &token,
                    UpdateChildRequest {
                        id: ids[&Rec::Learner].clone(),
                        expected_version: learner_version,
                        child: Some(Child {
                            identity: Some(haven_tests::fixtures::identity(
                                "Sagal",
                                "Matrixfamily",
                            )),
                            ..Child::default()
                        }),
                        update_mask: Some(prost_types::FieldMask {
                            paths: vec!["identity.other_names".into()],
                        }),
                    },
                ))
                .await,
        );
        check(
            &mut failures,
            profile.name,
            "UpdateChild(learner identity)",
            got,
            profile.update_learner_identity,
        );
        // EraseChild: only with the erase_child permission, on a case registered for this attempt.
        let doomed = client
            .register_child(authed(
                &owner,
                register(case_child("Doomed", "Probe", false)),
            ))
            .await
            .expect("setup")
            .into_inner()
            .child
            .and_then(|c| c.meta)
            .expect("meta")
            .id;
        let got = code_of(
            &client
                .erase_child(authed(
                    &token,
                    EraseChildRequest {
                        id: doomed,
                        reason: "authorization matrix probe".into(),
                    },
                ))
                .await,
        );
        check(
            &mut failures,
            profile.name,
            "EraseChild",
            got,
            profile.erase,
        );
        // ListAuditEntries: only roles granted the audit class.
        let mut audit = IdentityAuditClient::new(t.channel());
        let got = code_of(
            &audit
                .list_audit_entries(authed(
                    &token,
                    ListAuditEntriesRequest {
                        record_id: ids[&Rec::Consenting].clone(),
                        ..ListAuditEntriesRequest::default()
                    },
                ))
                .await,
        );
        check(
            &mut failures,
            profile.name,
            "ListAuditEntries",
            got,
            profile.list_audit,
        );
        // The duplicate review pair: the rule table, then the record.
        let unknown = uuid::Uuid::now_v7().to_string();
        let got = code_of(
            &client
                .request_duplicate_review(authed(
                    &token,
                    RequestDuplicateReviewRequest {
                        request_id: unknown.clone(),
                        notice_id: unknown.clone(),
                        kind: DuplicateReviewKind::Access as i32,
                        reason: "authorization matrix probe".into(),
                    },
                ))
                .await,
        );
        check(
            &mut failures,
            profile.name,
            "RequestDuplicateReview",
            got,
            profile.duplicate_review,
        );
        let got = code_of(
            &client
                .answer_duplicate_review(authed(
                    &token,
                    AnswerDuplicateReviewRequest {
                        id: unknown,
                        answer: DuplicateReviewStatus::Declined as i32,
                        reason: "authorization matrix probe".into(),
                    },
                ))
                .await,
        );
        check(
            &mut failures,
            profile.name,
            "AnswerDuplicateReview",
            got,
            profile.duplicate_review,
        );
        // BreakGlass last: a grant widens what this caller sees.
        let got = code_of(
            &client
                .break_glass(authed(
                    &token,
                    BreakGlassRequest {
                        child_id: ids[&Rec::Private].clone(),
                        reason: "authorization matrix probe".into(),
                    },
                ))
                .await,
        );
        check(
            &mut failures,
            profile.name,
            "BreakGlass",
            got,
            profile.break_glass,
        );
    }
    assert!(
        failures.is_empty(),
        "authorization matrix mismatches:\n{}",
        failures.join("\n")
    );
    t.stop().await;
}

/// The proto3 JSON form of a message, as a REST client sends it.
fn json_of<M: prost::Message>(message: &M, name: &str) -> serde_json::Value {
    let pool = prost_reflect::DescriptorPool::decode(haven_proto::FILE_DESCRIPTOR_SET)
        .expect("descriptors");
    let descriptor = pool.get_message_by_name(name).expect("message");
    let dynamic =
        prost_reflect::DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())
            .expect("decode");
    serde_json::to_value(&dynamic).expect("json")
}

/// The gRPC code a REST answer stands for (the gateway's table, for the codes this matrix meets).
fn code_of_http(status: u16) -> Code {
    match status {
        200 => Code::Ok,
        400 => Code::InvalidArgument,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        409 => Code::FailedPrecondition,
        _ => Code::Unknown,
    }
}

fn classes_of_json(view: &serde_json::Value) -> (BTreeSet<&'static str>, BTreeSet<&'static str>) {
    let mut seen = BTreeSet::new();
    for (key, class) in [("identity", I), ("whereabouts", W), ("protection", P)] {
        if view["child"].get(key).is_some() {
            seen.insert(class);
        }
    }
    let withheld = view["withheld"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|c| match c.as_str() {
                    Some("DATA_CLASS_IDENTITY") => I,
                    Some("DATA_CLASS_WHEREABOUTS") => W,
                    Some("DATA_CLASS_PROTECTION") => P,
                    _ => "other",
                })
                .collect()
        })
        .unwrap_or_default();
    (seen, withheld)
}

/// The same table over REST: every role's reads (each record and class), lists, searches, registrations
/// and updates through the REST routes give the answers the gRPC test above requires. EraseChild,
/// ListAuditEntries and BreakGlass have no REST route, so they are not partners' to call over HTTP.
#[tokio::test]
async fn every_role_sees_exactly_its_cells_over_rest() {
    use haven_tests::http1::request;
    let t = TestSuite::start().await;
    let mut client = t.client();
    let owner = t.token("caseworker", "cw-owner", "agency-a");
    let teacher = t.token("educator", "teacher-1", "school-1");
    let supervisor = t.token("supervisor", "sup-a", "agency-a");
    let ids = register_records(&mut client, &owner, &teacher, "Restmatrix").await;
    let addr = t.suite.gateway_addr;
    let rest = |method: &'static str, path: String, token: String, body: Option<String>| async move {
        let bearer = format!("Bearer {token}");
        let mut headers = vec![("Authorization", bearer.as_str())];
        if body.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        request(
            addr,
            method,
            &path,
            &headers,
            body.as_deref().map(str::as_bytes),
        )
        .await
    };

    let mut failures = Vec::new();
    for profile in profiles() {
        let token = t.token(profile.role, profile.sub, profile.agency);
        let mut expected_visible = BTreeSet::new();
        for (rec, id) in &ids {
            let got = rest("GET", format!("/v1/children/{id}"), token.clone(), None).await;
            let expected = profile
                .reads
                .map(|reads| reads.iter().find(|(r, _)| r == rec).and_then(|(_, c)| *c));
            match (expected, got.status) {
                (None, 403) | (Some(None), 404) => {}
                (Some(Some(classes)), 200) => {
                    let want: BTreeSet<&str> = classes.iter().copied().collect();
                    let withheld_want: BTreeSet<&str> = [I, W, P]
                        .into_iter()
                        .filter(|c| !want.contains(c))
                        .collect();
                    let (seen, withheld) = classes_of_json(&got.json());
                    if seen != want || withheld != withheld_want {
                        failures.push(format!(
                            "{}: GET /v1/children ({rec:?}) returned {seen:?} withheld {withheld:?}, want {want:?}",
                            profile.name
                        ));
                    }
                    expected_visible.insert(id.clone());
                }
                (want, status) => failures.push(format!(
                    "{}: GET /v1/children ({rec:?}) gave {status}, want {want:?}",
                    profile.name
                )),
            }
        }
        for path in [
            "/v1/children?page_size=100",
            "/v1/children:search?query=Restmatrix",
        ] {
            let got = rest("GET", path.to_owned(), token.clone(), None).await;
            match (profile.reads.is_some(), got.status) {
                (false, 403) => {}
                (true, 200) => {
                    let shown: BTreeSet<String> = got.json()["children"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|v| v["child"]["meta"]["id"].as_str().map(str::to_owned))
                        .filter(|id| ids.values().any(|known| known == id))
                        .collect();
                    if shown != expected_visible {
                        failures.push(format!(
                            "{}: GET {path} showed {} records, want {}",
                            profile.name,
                            shown.len(),
                            expected_visible.len()
                        ));
                    }
                }
                (allowed, status) => failures.push(format!(
                    "{}: GET {path} gave {status}, allowed={allowed}",
                    profile.name
                )),
            }
        }
        for (what, child, want) in [
            (
                "POST /v1/children (learner)",
                learner("Probe", "Learner"),
                profile.register_learner,
            ),
            (
                "POST /v1/children (case)",
                case_child("Probe", "Case", false),
                profile.register_case,
            ),
        ] {
            let body = json_of(&register(child), "haven.identity.v1.RegisterChildRequest");
            let got = rest(
                "POST",
                "/v1/children".into(),
                token.clone(),
                Some(body.to_string()),
            )
            .await;
            check(
                &mut failures,
                profile.name,
                what,
                code_of_http(got.status),
                want,
            );
        }
        let case_version = version_of(&mut client, &supervisor, &ids[&Rec::Private]).await;
        let update = json_of(
            &UpdateChildRequest {
                id: String::new(),
                expected_version: case_version,
                child: Some(case_child("Nimco", "Restmatrix", false)),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["protection.risk_level".into()],
                }),
            },
            "haven.identity.v1.UpdateChildRequest",
        );
        let got = rest(
            "PATCH",
            format!("/v1/children/{}", ids[&Rec::Private]),
            token.clone(),
            Some(update.to_string()),
        )
        .await;
        check(
            &mut failures,
            profile.name,
            "PATCH /v1/children (case protection)",
            code_of_http(got.status),
            profile.update_case_protection,
        );
        let learner_version = version_of(&mut client, &teacher, &ids[&Rec::Learner]).await;
        let update = json_of(
            &UpdateChildRequest {
                id: String::new(),
                expected_version: learner_version,
                child: Some(Child {
                    identity: Some(haven_tests::fixtures::identity("Sagal", "Restmatrix")),
                    ..Child::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["identity.other_names".into()],
                }),
            },
            "haven.identity.v1.UpdateChildRequest",
        );
        let got = rest(
            "PATCH",
            format!("/v1/children/{}", ids[&Rec::Learner]),
            token.clone(),
            Some(update.to_string()),
        )
        .await;
        check(
            &mut failures,
            profile.name,
            "PATCH /v1/children (learner identity)",
            code_of_http(got.status),
            profile.update_learner_identity,
        );
    }
    assert!(
        failures.is_empty(),
        "authorization matrix mismatches over REST:\n{}",
        failures.join("\n")
    );
    t.stop().await;
}
