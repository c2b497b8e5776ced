//! The duplicate check at registration: a child registered again under another spelling is flagged,
//! within the registering caller's own scope only, with ids, a score and reasons but no values.

use haven_proto::common::PartialDate;
use haven_proto::identity::{Child, Identity, Sex, identity::Birth};
use haven_tests::fixtures::{id_of, protection, register, whereabouts};
use haven_tests::{TestSuite, authed};

fn child(given: &str, family: &str, born: i32) -> Child {
    Child {
        identity: Some(Identity {
            given_name: given.into(),
            family_name: family.into(),
            sex: Sex::Female as i32,
            birth: Some(Birth::DateOfBirth(PartialDate {
                year: born,
                month: Some(4),
                day: None,
                estimated: false,
            })),
            father_name: "Generated Father".into(),
            ..Identity::default()
        }),
        whereabouts: Some(whereabouts()),
        protection: Some(protection(false)),
        meta: None,
    }
}

#[tokio::test]
async fn a_second_registration_of_one_child_names_the_first_within_the_callers_scope() {
    let t = TestSuite::start().await;
    let mut client = t.client();
    let owner = t.token("caseworker", "cw-1", "agency-a");
    let elsewhere = t.token("caseworker", "cw-9", "agency-b");

    let first = client
        .register_child(authed(
            &owner,
            register(child("Fatima", "Yusuf Ahmed", 2014)),
        ))
        .await
        .expect("first")
        .into_inner();
    assert!(
        first.possible_duplicates.is_empty(),
        "nothing to compare with yet"
    );
    let first_id = id_of(&first);
    client
        .register_child(authed(&owner, register(child("Nasra", "Ali Hassan", 2010))))
        .await
        .expect("someone else");

    let again = client
        .register_child(authed(
            &owner,
            register(child("Faadumo", "Yuusuf Axmed", 2014)),
        ))
        .await
        .expect("again")
        .into_inner();
    assert_eq!(
        again
            .possible_duplicates
            .iter()
            .map(|d| d.child_id.as_str())
            .collect::<Vec<_>>(),
        vec![first_id.as_str()],
        "the first registration, and only it"
    );
    let duplicate = &again.possible_duplicates[0];
    assert!(duplicate.score > 0.2 && duplicate.score <= 1.0);
    assert!(
        duplicate
            .reasons
            .iter()
            .any(|r| r.starts_with("given_name:")),
        "{:?}",
        duplicate.reasons
    );
    assert!(
        duplicate.reasons.iter().all(|r| !r.contains("Fatima")),
        "reasons never carry the other record's values"
    );

    // Another agency's caseworker cannot see the first record, so it is not named to them.
    let outside = client
        .register_child(authed(
            &elsewhere,
            register(child("Fatima", "Yusuf Ahmed", 2014)),
        ))
        .await
        .expect("other agency")
        .into_inner();
    assert!(outside.possible_duplicates.is_empty());
    t.stop().await;
}
