//! Family tracing's protected data is stored sealed, as identity's whereabouts are (issue 11): the
//! inquirer (who is looking), the sought children, review reasons, family-link names and the identity
//! projection never reach the database in clear. Erasing a request crypto-erases it; a restarted
//! service matches from the sealed rows; rows written in clear before this change are sealed at start.

use std::time::Duration;

use haven_family_tracing::entity::{
    child_profile, family_link, profile_key, request_key, review, tracing_request,
};
use haven_proto::common::{Location, PartialDate};
use haven_proto::family_tracing::{
    CreateTracingRequestRequest, Decision, FindMatchesRequest, GetTracingRequestRequest, Inquirer,
    ListFamilyLinksRequest, Relation, ReviewMatchRequest, Sex, SoughtChild, TracingRequest,
};
use haven_proto::identity::{Child, Identity, Sex as ChildSex, identity::Birth};
use haven_tests::fixtures::{id_of, protection, register, whereabouts};
use haven_tests::{TestSuite, authed};
use prost::Message as _;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, Set, Statement,
};
use tonic::Code;

/// Planted in every protected tracing field; none may appear in the database.
const INQUIRER_GIVEN: &str = "Canaryinquirergiven";
const INQUIRER_FAMILY: &str = "Canaryinquirerfamily";
const INQUIRER_CONTACT: &str = "canary-contact-+000-555-0199";
const INQUIRER_PLACE: &str = "canary-inquirer-block-44e1";
const SOUGHT_GIVEN: &str = "Canarysoughtgiven";
const SOUGHT_FAMILY: &str = "Canarysoughtfamily";
const SOUGHT_FREE_TEXT: &str = "canary-separation-story-5d0b";
const REVIEW_REASON: &str = "canary-review-reason-a17c";
/// The registered child's names: the projection holds them, sealed.
const CHILD_GIVEN: &str = "Canarysoughtgiven";
const CHILD_FATHER: &str = "Canaryfathername";

const CANARIES: [&str; 9] = [
    INQUIRER_GIVEN,
    INQUIRER_FAMILY,
    INQUIRER_CONTACT,
    INQUIRER_PLACE,
    SOUGHT_GIVEN,
    SOUGHT_FAMILY,
    SOUGHT_FREE_TEXT,
    REVIEW_REASON,
    CHILD_FATHER,
];

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

fn consenting_child() -> Child {
    Child {
        identity: Some(Identity {
            given_name: CHILD_GIVEN.into(),
            family_name: SOUGHT_FAMILY.into(),
            sex: ChildSex::Female as i32,
            birth: Some(Birth::DateOfBirth(PartialDate {
                year: 2016,
                month: None,
                day: None,
                estimated: true,
            })),
            father_name: CHILD_FATHER.into(),
            ..Identity::default()
        }),
        whereabouts: Some(whereabouts()),
        protection: Some(protection(true)),
        meta: None,
    }
}

fn inquirer() -> Inquirer {
    Inquirer {
        given_name: INQUIRER_GIVEN.into(),
        family_name: INQUIRER_FAMILY.into(),
        relation: Relation::Mother as i32,
        contact: INQUIRER_CONTACT.into(),
        location: Some(Location {
            admin_path: vec!["XX".into()],
            description: INQUIRER_PLACE.into(),
        }),
        ..Inquirer::default()
    }
}

fn sought_child() -> SoughtChild {
    SoughtChild {
        given_name: SOUGHT_GIVEN.into(),
        family_name: SOUGHT_FAMILY.into(),
        sex: Sex::Female as i32,
        date_of_birth: Some(PartialDate {
            year: 2016,
            month: None,
            day: None,
            estimated: true,
        }),
        father_name: CHILD_FATHER.into(),
        separation_circumstances: SOUGHT_FREE_TEXT.into(),
        ..SoughtChild::default()
    }
}

async fn file_request(t: &TestSuite, token: &str) -> TracingRequest {
    t.tracing()
        .create_tracing_request(authed(
            token,
            CreateTracingRequestRequest {
                request_id: uuid::Uuid::now_v7().to_string(),
                inquirer: Some(inquirer()),
                sought_children: vec![sought_child()],
            },
        ))
        .await
        .expect("create")
        .into_inner()
}

async fn candidates(t: &TestSuite, token: &str, request: &TracingRequest) -> Vec<String> {
    t.tracing()
        .find_matches(authed(
            token,
            FindMatchesRequest {
                tracing_request_id: request.id.clone(),
                sought_child_id: request.sought_children[0].id.clone(),
                limit: 10,
            },
        ))
        .await
        .expect("find matches")
        .into_inner()
        .candidates
        .into_iter()
        .map(|c| c.child_id)
        .collect()
}

/// Waits until FindMatches shows `child` (events reach the projection asynchronously).
async fn until_found(t: &TestSuite, token: &str, request: &TracingRequest, child: &str) {
    for _ in 0..150 {
        if candidates(t, token, request)
            .await
            .iter()
            .any(|c| c == child)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the registered child never became a candidate");
}

/// Every byte the family tracing database holds, as one haystack: on SQLite the database file and its
/// write-ahead log; on PostgreSQL every row of every table of its schema, as text (bytea as hex, so a
/// canary is looked for in both forms).
async fn dump(t: &TestSuite, db: &DatabaseConnection) -> Vec<u8> {
    if haven_tests::backend() == "sqlite" {
        let mut bytes = Vec::new();
        for name in ["family-tracing.db", "family-tracing.db-wal"] {
            if let Ok(file) = std::fs::read(t.data_dir.join(name)) {
                bytes.extend(file);
            }
        }
        return bytes;
    }
    let backend = db.get_database_backend();
    let tables = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT table_name::text AS name FROM information_schema.tables \
             WHERE table_schema = current_schema()",
        ))
        .await
        .expect("list tables");
    assert!(!tables.is_empty(), "the scan finds the schema's tables");
    let mut bytes = Vec::new();
    for table in tables {
        let name: String = table.try_get("", "name").expect("table name");
        let rows = db
            .query_all_raw(Statement::from_string(
                backend,
                format!("SELECT CAST(t AS TEXT) AS row FROM \"{name}\" t"),
            ))
            .await
            .expect("scan table");
        for row in rows {
            let text: String = row.try_get("", "row").expect("row text");
            bytes.extend(text.into_bytes());
            bytes.push(b'\n');
        }
    }
    bytes
}

/// Whether the dump holds `canary`, in clear or (PostgreSQL bytea) as hex.
fn holds(dump: &[u8], canary: &str) -> bool {
    let hex: String = canary.bytes().map(|b| format!("{b:02x}")).collect();
    contains(dump, canary) || contains(dump, &hex)
}

fn assert_no_canary(dump: &[u8], when: &str) {
    for canary in CANARIES {
        assert!(!holds(dump, canary), "{when}: the database holds {canary}");
    }
}

#[tokio::test]
async fn a_raw_database_dump_holds_nothing_of_who_is_looking_or_for_whom() {
    let t = TestSuite::start().await;
    let caseworker = t.token("caseworker", "cw-seal", "agency-a");
    let officer = t.token("reunification_officer", "ro-sealed-owner", "agency-b");
    let child = id_of(
        &t.client()
            .register_child(authed(&caseworker, register(consenting_child())))
            .await
            .expect("register")
            .into_inner(),
    );
    let request = file_request(&t, &officer).await;
    until_found(&t, &officer, &request, &child).await;
    t.tracing()
        .review_match(authed(
            &officer,
            ReviewMatchRequest {
                tracing_request_id: request.id.clone(),
                sought_child_id: request.sought_children[0].id.clone(),
                child_id: child.clone(),
                decision: Decision::Confirm as i32,
                reason: REVIEW_REASON.into(),
            },
        ))
        .await
        .expect("confirm");

    // Allowed readers see every value as entered.
    let read = t
        .tracing()
        .get_tracing_request(authed(
            &officer,
            GetTracingRequestRequest {
                id: request.id.clone(),
            },
        ))
        .await
        .expect("read back")
        .into_inner();
    assert_eq!(read.inquirer, Some(inquirer()));
    assert_eq!(read.sought_children[0].given_name, SOUGHT_GIVEN);
    assert_eq!(
        read.sought_children[0].separation_circumstances,
        SOUGHT_FREE_TEXT
    );
    assert_eq!(read.sought_children[0].matched_child_id, child);
    let links = t
        .tracing()
        .list_family_links(authed(
            &officer,
            ListFamilyLinksRequest {
                child_id: child.clone(),
            },
        ))
        .await
        .expect("links")
        .into_inner()
        .links;
    assert_eq!(
        links[0].relative_name,
        format!("{INQUIRER_GIVEN} {INQUIRER_FAMILY}")
    );

    let db = t.family_tracing_db().await;
    let row = tracing_request::Entity::find_by_id(request.id.clone())
        .one(&db)
        .await
        .expect("q")
        .expect("row");
    assert!(row.sealed);
    assert_eq!(row.owner, "ro-sealed-owner", "header columns stay clear");
    let profile = child_profile::Entity::find_by_id(child.clone())
        .one(&db)
        .await
        .expect("q")
        .expect("the consenting child is profiled");
    assert!(profile.sealed);
    assert!(
        request_key::Entity::find_by_id(request.id.clone())
            .one(&db)
            .await
            .expect("q")
            .is_some()
    );
    let bytes = dump(&t, &db).await;
    assert!(
        contains(&bytes, "ro-sealed-owner"),
        "the scan sees the clear columns (it works)"
    );
    assert_no_canary(&bytes, "after filing, matching and confirming");
    db.close().await.ok();
    t.stop().await;
}

#[tokio::test]
async fn erasing_a_request_crypto_erases_it_and_a_restored_row_does_not_open() {
    let t = TestSuite::start().await;
    let officer = t.token("reunification_officer", "ro-erase", "agency-b");
    let request = file_request(&t, &officer).await;
    let db = t.family_tracing_db().await;
    let backup = tracing_request::Entity::find_by_id(request.id.clone())
        .one(&db)
        .await
        .expect("q")
        .expect("row");

    assert!(
        haven_family_tracing::erase_tracing_request(&db, &request.id, "admin-erasure")
            .await
            .expect("erase")
    );
    assert!(
        !haven_family_tracing::erase_tracing_request(&db, &request.id, "admin-erasure")
            .await
            .expect("erase again"),
        "nothing left to erase"
    );
    let status = t
        .tracing()
        .get_tracing_request(authed(
            &officer,
            GetTracingRequestRequest {
                id: request.id.clone(),
            },
        ))
        .await
        .expect_err("erased");
    assert_eq!(status.code(), Code::NotFound);
    assert!(
        request_key::Entity::find_by_id(request.id.clone())
            .one(&db)
            .await
            .expect("q")
            .is_none(),
        "the request's data key is gone"
    );

    // A copy of the row (a backup, a replica's disk) put back without its key opens for nobody.
    tracing_request::Entity::insert(tracing_request::ActiveModel::from(backup))
        .exec_without_returning(&db)
        .await
        .expect("restore the row");
    let status = t
        .tracing()
        .get_tracing_request(authed(
            &officer,
            GetTracingRequestRequest {
                id: request.id.clone(),
            },
        ))
        .await
        .expect_err("a restored row without its key does not open");
    assert_eq!(status.code(), Code::Internal);
    assert_eq!(status.message(), "internal error", "no detail leaks");
    assert_no_canary(&dump(&t, &db).await, "after erasure");
    db.close().await.ok();
    t.stop().await;
}

#[tokio::test]
async fn a_restarted_service_finds_the_child_from_the_sealed_rows() {
    let t = TestSuite::start().await;
    let caseworker = t.token("caseworker", "cw-restart", "agency-a");
    let officer = t.token("reunification_officer", "ro-restart", "agency-b");
    let child = id_of(
        &t.client()
            .register_child(authed(&caseworker, register(consenting_child())))
            .await
            .expect("register")
            .into_inner(),
    );
    let request = file_request(&t, &officer).await;
    until_found(&t, &officer, &request, &child).await;

    let t = t.restart().await;
    // No waiting: the index is rebuilt from the sealed projection before the service answers.
    assert!(
        candidates(&t, &officer, &request).await.contains(&child),
        "FindMatches finds the child right after a restart"
    );
    t.stop().await;
}

#[tokio::test]
async fn rows_written_in_clear_before_sealing_are_sealed_at_start() {
    let t = TestSuite::start().await;
    let officer = t.token("reunification_officer", "ro-legacy", "agency-b");
    let db = t.family_tracing_db().await;

    // What a deployment from before encryption at rest holds: every protected column in clear.
    let request_id = uuid::Uuid::now_v7().to_string();
    let sought_id = uuid::Uuid::now_v7().to_string();
    let child_id = uuid::Uuid::now_v7().to_string();
    let now = chrono::Utc::now().timestamp_micros();
    let body = TracingRequest {
        inquirer: Some(inquirer()),
        sought_children: vec![SoughtChild {
            id: sought_id.clone(),
            ..sought_child()
        }],
        ..TracingRequest::default()
    };
    tracing_request::Entity::insert(tracing_request::ActiveModel {
        id: Set(request_id.clone()),
        version: Set(1),
        owner: Set("ro-legacy".into()),
        agency: Set("agency-b".into()),
        status: Set("open".into()),
        body: Set(body.encode_to_vec()),
        created_at_us: Set(now),
        created_by: Set("ro-legacy".into()),
        updated_at_us: Set(now),
        updated_by: Set("ro-legacy".into()),
        sealed: Set(false),
    })
    .exec_without_returning(&db)
    .await
    .expect("legacy request");
    child_profile::Entity::insert(child_profile::ActiveModel {
        child_id: Set(child_id.clone()),
        identity_version: Set(1),
        owner: Set("cw-legacy".into()),
        agency: Set("agency-a".into()),
        identity: Set(consenting_child()
            .identity
            .expect("identity")
            .encode_to_vec()),
        registered_at_us: Set(now),
        sealed: Set(false),
    })
    .exec_without_returning(&db)
    .await
    .expect("legacy profile");
    family_link::Entity::insert(family_link::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        child_id: Set(child_id.clone()),
        relative_child_id: Set(String::new()),
        relative_name: Set(format!("{INQUIRER_GIVEN} {INQUIRER_FAMILY}")),
        relation: Set("mother".into()),
        tracing_request_id: Set(request_id.clone()),
        linked_at_us: Set(now),
        relative_name_sealed: Set(None),
    })
    .exec_without_returning(&db)
    .await
    .expect("legacy link");
    review::Entity::insert(review::ActiveModel {
        tracing_request_id: Set(request_id.clone()),
        sought_child_id: Set(sought_id.clone()),
        child_id: Set(uuid::Uuid::now_v7().to_string()),
        decision: Set("reject".into()),
        reason: Set(REVIEW_REASON.into()),
        reviewed_by: Set("ro-legacy".into()),
        reviewed_at_us: Set(now),
        score: Set(0.1),
        reason_sealed: Set(None),
    })
    .exec_without_returning(&db)
    .await
    .expect("legacy review");
    assert!(
        holds(&dump(&t, &db).await, INQUIRER_CONTACT),
        "the scan sees a protected value stored in clear (it works)"
    );
    db.close().await.ok();

    let t = t.restart().await;
    let db = t.family_tracing_db().await;
    let row = tracing_request::Entity::find_by_id(request_id.clone())
        .one(&db)
        .await
        .expect("q")
        .expect("row");
    assert!(row.sealed, "the legacy request is sealed");
    let profile = child_profile::Entity::find_by_id(child_id.clone())
        .one(&db)
        .await
        .expect("q")
        .expect("profile");
    assert!(profile.sealed, "the legacy profile is sealed");
    assert!(
        profile_key::Entity::find_by_id(child_id.clone())
            .one(&db)
            .await
            .expect("q")
            .is_some()
    );
    let links = family_link::Entity::find()
        .filter(family_link::Column::TracingRequestId.eq(request_id.clone()))
        .all(&db)
        .await
        .expect("links");
    assert!(
        links
            .iter()
            .all(|l| l.relative_name.is_empty() && l.relative_name_sealed.is_some())
    );
    let reviews = review::Entity::find()
        .filter(review::Column::TracingRequestId.eq(request_id.clone()))
        .all(&db)
        .await
        .expect("reviews");
    assert!(
        reviews
            .iter()
            .all(|r| r.reason.is_empty() && r.reason_sealed.is_some())
    );
    assert_no_canary(&dump(&t, &db).await, "after the startup pass");

    // The pass is idempotent: a second run finds nothing left in clear.
    let keyring = haven_family_tracing::keyring(&t.config, true).expect("keyring");
    let vault = haven_family_tracing::Vault::new(std::sync::Arc::new(keyring));
    let again = haven_family_tracing::seal_clear_rows(&db, &vault)
        .await
        .expect("second pass");
    assert_eq!(again.total(), 0);

    // The sealed rows still serve: the request reads back, and matches the sealed profile.
    let read = t
        .tracing()
        .get_tracing_request(authed(
            &officer,
            GetTracingRequestRequest {
                id: request_id.clone(),
            },
        ))
        .await
        .expect("the legacy request reads back")
        .into_inner();
    assert_eq!(read.inquirer, Some(inquirer()));
    let request = TracingRequest {
        id: request_id,
        sought_children: vec![SoughtChild {
            id: sought_id,
            ..SoughtChild::default()
        }],
        ..TracingRequest::default()
    };
    assert!(
        candidates(&t, &officer, &request).await.contains(&child_id),
        "the legacy profile is indexed from its sealed row"
    );
    db.close().await.ok();
    t.stop().await;
}
