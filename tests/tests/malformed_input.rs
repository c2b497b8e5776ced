//! Bytes that are not the message an RPC expects, sent through the gateway and straight to each service
//! with a raw codec, as a hostile or broken client would: the answer is UNAUTHENTICATED when the call has
//! no valid token (the body is never decoded), and INVALID_ARGUMENT after authentication. Never INTERNAL.
//! Also: values that decode but are out of bounds, and messages over the size limit.

use haven_proto::common::AgeRange;
use haven_proto::family_tracing::{CreateTracingRequestRequest, Inquirer, Relation, SoughtChild};
use haven_proto::identity::{
    GetChildRequest, ListChildrenResponse, SearchChildrenRequest, identity::Birth,
};
use haven_tests::fixtures::{case_child, id_of, register};
use haven_tests::{TestSuite, authed};
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt as _;

/// Sends and receives bytes as they are: the request body is whatever the test wrote.
fn channel_to(addr: std::net::SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("url")
        .connect_lazy()
}

/// Each body breaks protobuf a different way. Field 1 is a string in every request used below.
fn malformed_bodies() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("garbage bytes", vec![0xff; 24]),
        // Field 1, length-delimited, then a length varint whose continuation bit promises more bytes.
        ("truncated varint", vec![0x0a, 0x80]),
        ("length past the end", vec![0x0a, 0x40, b'a']),
        (
            "invalid UTF-8 in a string",
            vec![0x0a, 0x03, 0xff, 0xfe, 0xfd],
        ),
        // Field 1 sent as a varint where a string is declared.
        ("wrong wire type", vec![0x08, 0x01]),
        // 5,000 nested start-group tags of an unknown field 15: past prost's recursion limit.
        ("5,000 nested groups", vec![0x7b; 5_000]),
    ]
}

/// An RPC of every service, with the token of a role that may call it.
const TARGETS: &[(&str, &str, &str)] = &[
    (
        "/haven.identity.v1.ChildIdentity/GetChild",
        "caseworker",
        "identity",
    ),
    (
        "/haven.identity.v1.ChildIdentity/RegisterChild",
        "caseworker",
        "identity",
    ),
    (
        "/haven.family_tracing.v1.FamilyTracing/CreateTracingRequest",
        "reunification_officer",
        "family-tracing",
    ),
    (
        "/haven.learning.v1.LearningRecords/EnrolLearner",
        "educator",
        "learning",
    ),
];

#[tokio::test]
async fn malformed_bodies_answer_unauthenticated_without_a_token_and_invalid_argument_with_one() {
    let t = TestSuite::start().await;
    let doors = [
        ("gateway", t.suite.gateway_addr),
        ("identity", t.suite.identity_addr),
        ("family-tracing", t.suite.family_tracing_addr),
        ("learning", t.suite.learning_addr),
    ];
    let mut cells = 0;
    for (door, addr) in doors {
        let channel = channel_to(addr);
        for (path, role, service) in TARGETS {
            if door != "gateway" && door != *service {
                continue;
            }
            let token = t.token(role, &format!("{role}-1"), "agency-a");
            for (what, body) in malformed_bodies() {
                let anonymous = haven_tests::raw::call(channel.clone(), path, None, body.clone())
                    .await
                    .expect_err("no token");
                assert_eq!(
                    anonymous.code(),
                    Code::Unauthenticated,
                    "{what} to {path} via {door} without a token: {anonymous:?}"
                );
                let forged =
                    haven_tests::raw::call(channel.clone(), path, Some("not.a.jwt"), body.clone())
                        .await
                        .expect_err("bad token");
                assert_eq!(forged.code(), Code::Unauthenticated, "{what} via {door}");

                let status = haven_tests::raw::call(channel.clone(), path, Some(&token), body)
                    .await
                    .expect_err("malformed");
                assert_eq!(
                    status.code(),
                    Code::InvalidArgument,
                    "{what} to {path} via {door}: {status:?}"
                );
                assert!(
                    status.message().contains("is not a valid"),
                    "{what} via {door}: {}",
                    status.message()
                );
                cells += 1;
            }
        }
    }
    assert_eq!(cells, 2 * TARGETS.len() * malformed_bodies().len());

    // A well-formed body still works through the same raw path: the codec refuses only what is broken.
    let cw = t.token("caseworker", "cw-1", "agency-a");
    let listed = haven_tests::raw::call(
        channel_to(t.suite.gateway_addr),
        "/haven.identity.v1.ChildIdentity/ListChildren",
        Some(&cw),
        Vec::new(),
    )
    .await
    .expect("an empty body is a valid default ListChildrenRequest");
    let listed: ListChildrenResponse = prost::Message::decode(listed.as_slice()).expect("decodes");
    assert!(listed.children.is_empty(), "nothing was registered");
    t.stop().await;
}

#[tokio::test]
async fn a_message_over_the_limit_is_resource_exhausted_at_the_gateway_and_at_each_service() {
    let t = TestSuite::start().await;
    let cw = t.token("caseworker", "cw-1", "agency-a");
    let limit = t.config.gateway.max_message_bytes;
    let huge = SearchChildrenRequest {
        query: "a".repeat(limit + 1),
        page: None,
    };
    let body = prost::Message::encode_to_vec(&huge);
    for addr in [t.suite.gateway_addr, t.suite.identity_addr] {
        let status = haven_tests::raw::call(
            channel_to(addr),
            "/haven.identity.v1.ChildIdentity/SearchChildren",
            Some(&cw),
            body.clone(),
        )
        .await
        .expect_err("too large");
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        assert!(
            status.message().contains("larger than"),
            "{}",
            status.message()
        );
    }
    t.stop().await;
}

fn fields_of(status: &Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|bad| bad.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn out_of_bounds_values_name_their_field_and_write_nothing() {
    let t = TestSuite::start().await;
    let cw = t.token("caseworker", "cw-1", "agency-a");
    let mut client = t.client();
    let year = |y: i32| {
        let date = chrono::NaiveDate::from_ymd_opt(y, 6, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("date");
        prost_types::Timestamp {
            seconds: date.and_utc().timestamp(),
            nanos: 0,
        }
    };

    // An age assessed in the year 9999 or 0001.
    for y in [9999, 1] {
        let mut child = case_child("Amina", "Yusuf", false);
        child.identity.as_mut().expect("identity").birth = Some(Birth::AgeEstimate(AgeRange {
            min_years: 6,
            max_years: 8,
            assessed_at: Some(year(y)),
        }));
        let status = client
            .register_child(authed(&cw, register(child)))
            .await
            .expect_err("assessed out of range");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(
            fields_of(&status),
            ["child.identity.age_estimate.assessed_at"],
            "year {y}"
        );
    }

    // A given name of spaces only, beside a real family name.
    let status = client
        .register_child(authed(&cw, register(case_child("   ", "Yusuf", false))))
        .await
        .expect_err("blank given name");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(fields_of(&status), ["child.identity.given_name"]);

    let listed = client
        .list_children(authed(&cw, Default::default()))
        .await
        .expect("list")
        .into_inner();
    assert!(listed.children.is_empty(), "nothing was written");

    // The same rules hold in family tracing, which validates the same common types.
    let officer = t.token("reunification_officer", "ro-1", "agency-a");
    let status = t
        .tracing()
        .create_tracing_request(authed(
            &officer,
            CreateTracingRequestRequest {
                request_id: uuid::Uuid::now_v7().to_string(),
                inquirer: Some(Inquirer {
                    given_name: "\t ".into(),
                    family_name: "Cali".into(),
                    relation: Relation::Mother as i32,
                    ..Inquirer::default()
                }),
                sought_children: vec![SoughtChild {
                    given_name: "Xaliimo".into(),
                    age_estimate: Some(AgeRange {
                        min_years: 6,
                        max_years: 8,
                        assessed_at: Some(year(9999)),
                    }),
                    ..SoughtChild::default()
                }],
            },
        ))
        .await
        .expect_err("out of range");
    assert_eq!(status.code(), Code::InvalidArgument);
    let mut fields = fields_of(&status);
    fields.sort();
    assert_eq!(
        fields,
        [
            "inquirer.given_name",
            "sought_children[0].age_estimate.assessed_at"
        ]
    );
    t.stop().await;
}

#[tokio::test]
async fn an_id_in_another_spelling_is_invalid_argument_not_not_found() {
    let t = TestSuite::start().await;
    let cw = t.token("caseworker", "cw-1", "agency-a");
    let mut client = t.client();
    let view = client
        .register_child(authed(&cw, register(case_child("Amina", "Yusuf", false))))
        .await
        .expect("register")
        .into_inner();
    let id = id_of(&view);
    let parsed = uuid::Uuid::parse_str(&id).expect("uuid");
    for other in [
        id.to_uppercase(),
        parsed.simple().to_string(),
        parsed.braced().to_string(),
    ] {
        let status = client
            .get_child(authed(&cw, GetChildRequest { id: other }))
            .await
            .expect_err("not canonical");
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert_eq!(fields_of(&status), ["id"]);
    }
    let found = client
        .get_child(authed(&cw, GetChildRequest { id: id.clone() }))
        .await
        .expect("the canonical spelling finds it")
        .into_inner();
    assert_eq!(id_of(&found), id);
    t.stop().await;
}
