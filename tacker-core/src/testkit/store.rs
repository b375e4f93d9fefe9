//! The store conformance suite: every [`Store`] implementation runs these checks.
//!
//! Each check uses fresh tenants and identifiers, so the checks can run one after the
//! other against one database. Call [`run_all`], or the checks one by one.

use chrono::Utc;
use futures::future::join_all;
use std::collections::HashSet;
use std::time::Duration;

use super::fixtures;
use crate::filter::{Filter, FilterOp};
use crate::model::{InstantiationState, LcmOperationStateType as State, LcmOperationType as Op};
use crate::store::{
    ListQuery, NewNotification, OpOccRecord, Record, RecordKind, Store, StoreExt, VimRecord,
    VnfInstanceRecord, Write,
};
use crate::{Error, TenantId, new_id};

/// A tenant no other check uses.
fn fresh_tenant() -> TenantId {
    TenantId::new(format!("tenant-{}", new_id()))
}

fn assert_conflict<T: std::fmt::Debug>(result: crate::Result<T>, what: &str) {
    match result {
        Err(Error::Conflict(_)) => {}
        other => panic!("{what}: expected Conflict, got {other:?}"),
    }
}

fn assert_in_progress<T: std::fmt::Debug>(
    result: crate::Result<T>,
    vnf_instance_id: &str,
    holder: &str,
    what: &str,
) {
    match result {
        Err(Error::OperationInProgress {
            vnf_instance_id: instance,
            vnf_lcm_op_occ_id: op,
            ..
        }) if instance == vnf_instance_id && op == holder => {}
        other => panic!(
            "{what}: expected OperationInProgress naming operation {holder} on VNF instance {vnf_instance_id}, got {other:?}"
        ),
    }
}

fn assert_stale<T: std::fmt::Debug>(result: crate::Result<T>, what: &str) {
    match result {
        Err(Error::StaleVersion { .. }) => {}
        other => panic!("{what}: expected StaleVersion, got {other:?}"),
    }
}

fn assert_not_found<T: std::fmt::Debug>(result: crate::Result<T>, what: &str) {
    match result {
        Err(Error::NotFound { .. }) => {}
        other => panic!("{what}: expected NotFound, got {other:?}"),
    }
}

/// Runs every check, in order.
pub async fn run_all(store: &dyn Store) {
    crud_of_every_kind(store).await;
    duplicate_ids_are_refused(store).await;
    stale_versions_are_refused(store).await;
    tenants_never_see_each_other(store).await;
    one_operation_in_progress_per_instance(store).await;
    concurrent_starts_on_one_instance_have_one_winner(store, 50).await;
    unique_keys_of_packages_and_vims(store).await;
    commit_is_all_or_nothing(store).await;
    checks_commit_only_on_unchanged_records(store).await;
    listing_filters_orders_and_pages(store).await;
    summaries_list_what_records_list(store).await;
    filters_never_test_credentials(store).await;
    filters_find_every_kind_of_value(store).await;
    indexed_filters_match_unindexed(store, 0x5eed).await;
    notifications_commit_with_their_state_change(store).await;
    outbox_delivers_in_order_per_subscription(store).await;
    deleting_a_subscription_drops_its_notifications(store).await;
    op_leases_are_exclusive_and_expire(store).await;
    concurrent_claims_never_share_an_op(store).await;
    one_active_alarm_per_fault(store).await;
    fm_notifications_queue_with_their_alarm(store).await;
    concurrent_driver_state_updates_lose_nothing(store, 8).await;
}

/// Insert, get, update, list and delete work for every record kind, and versions count.
pub async fn crud_of_every_kind(store: &dyn Store) {
    let tenant = fresh_tenant();
    let records: Vec<Record> = vec![
        fixtures::package(&new_id(), None).into(),
        fixtures::instance(&new_id(), "vnfd-a", "crud").into(),
        fixtures::op_occ(&new_id(), &new_id(), Op::Instantiate, State::Starting).into(),
        fixtures::vim(&new_id(), "crud-vim", false).into(),
        fixtures::lccn_subscription(&new_id(), "http://127.0.0.1:9/lccn").into(),
        fixtures::pkgm_subscription(&new_id(), "http://127.0.0.1:9/pkgm").into(),
        fixtures::fm_subscription(&new_id(), "http://127.0.0.1:9/fm").into(),
        fixtures::alarm(&new_id(), &new_id(), "vnfc-1").into(),
        fixtures::driver_state(&format!("sim/{}", new_id()), &new_id()).into(),
    ];
    for record in records {
        let kind = record.kind();
        let id = record.id().to_owned();
        assert!(
            record.unique_keys().is_empty() || kind.may_hold_unique_keys(),
            "{kind:?} holds unique keys: stores must look for them"
        );
        let versions = store
            .commit(&tenant, vec![Write::Insert(record.clone())])
            .await
            .unwrap_or_else(|e| panic!("insert {kind:?}: {e}"));
        assert_eq!(versions, vec![1], "insert {kind:?} yields version 1");

        let read = store
            .get(&tenant, kind, &id)
            .await
            .expect("get after insert");
        assert_eq!(read.version, 1);
        assert_eq!(read.value, record, "{kind:?} reads back as written");

        let updated = store
            .commit(
                &tenant,
                vec![Write::Update {
                    record: record.clone(),
                    expected_version: 1,
                }],
            )
            .await
            .unwrap_or_else(|e| panic!("update {kind:?}: {e}"));
        assert_eq!(updated, vec![2], "update {kind:?} yields version 2");
        let unchanged = store
            .get_if_changed(&tenant, kind, &id, 2)
            .await
            .expect("get_if_changed at the current version");
        assert!(unchanged.is_none(), "{kind:?} at version 2 is unchanged");
        let changed = store
            .get_if_changed(&tenant, kind, &id, 1)
            .await
            .expect("get_if_changed at an old version")
            .unwrap_or_else(|| panic!("{kind:?} moved on from version 1"));
        assert_eq!(changed.version, 2);
        assert_eq!(changed.value, record, "{kind:?} reads back as written");

        let page = store
            .list(&tenant, kind, &ListQuery::all())
            .await
            .expect("list");
        assert_eq!(page.items.len(), 1, "{kind:?} listed once");
        assert_eq!(page.items[0].version, 2);

        store
            .commit(
                &tenant,
                vec![Write::Delete {
                    kind,
                    id: id.clone(),
                    expected_version: Some(2),
                }],
            )
            .await
            .unwrap_or_else(|e| panic!("delete {kind:?}: {e}"));
        assert_not_found(store.get(&tenant, kind, &id).await, "get after delete");
        assert_not_found(
            store.get_if_changed(&tenant, kind, &id, 2).await,
            "get_if_changed after delete",
        );
        assert_not_found(
            store
                .commit(
                    &tenant,
                    vec![Write::Delete {
                        kind,
                        id: id.clone(),
                        expected_version: None,
                    }],
                )
                .await,
            "delete twice",
        );
    }
}

/// Inserting an id that exists is a conflict.
pub async fn duplicate_ids_are_refused(store: &dyn Store) {
    let tenant = fresh_tenant();
    let record = fixtures::instance(&new_id(), "vnfd-a", "dup");
    store
        .insert(&tenant, record.clone())
        .await
        .expect("first insert");
    assert_conflict(
        store.insert(&tenant, record).await,
        "second insert of one id",
    );
}

/// An update or delete that names a stale version is refused and changes nothing.
pub async fn stale_versions_are_refused(store: &dyn Store) {
    let tenant = fresh_tenant();
    let id = new_id();
    let mut record = fixtures::instance(&id, "vnfd-a", "v1");
    store.insert(&tenant, record.clone()).await.expect("insert");
    record.instance.vnf_instance_name = Some("v2".into());
    let v2 = store
        .update(&tenant, record.clone(), 1)
        .await
        .expect("update at 1");
    assert_eq!(v2, 2);

    record.instance.vnf_instance_name = Some("lost update".into());
    assert_stale(
        store.update(&tenant, record.clone(), 1).await,
        "update at stale 1",
    );
    assert_stale(
        store
            .delete::<VnfInstanceRecord>(&tenant, &id, Some(1))
            .await,
        "delete at stale 1",
    );
    let read = store
        .get_typed::<VnfInstanceRecord>(&tenant, &id)
        .await
        .expect("get");
    assert_eq!(read.version, 2);
    assert_eq!(read.value.instance.vnf_instance_name.as_deref(), Some("v2"));
    assert_not_found(
        store
            .update(&tenant, fixtures::instance(&new_id(), "vnfd-a", "ghost"), 1)
            .await,
        "update of a missing record",
    );
}

/// A tenant cannot read, list, update or delete another tenant's records, and unique
/// keys are per tenant.
pub async fn tenants_never_see_each_other(store: &dyn Store) {
    let alice = fresh_tenant();
    let bob = fresh_tenant();
    let id = new_id();
    let record = fixtures::instance(&id, "vnfd-a", "alice's");
    store.insert(&alice, record.clone()).await.expect("insert");

    assert_not_found(
        store.get_typed::<VnfInstanceRecord>(&bob, &id).await,
        "bob reads alice's instance",
    );
    let bobs = store
        .list_typed::<VnfInstanceRecord>(&bob, &ListQuery::all())
        .await
        .expect("list");
    assert!(bobs.items.is_empty(), "bob lists nothing");
    assert_not_found(store.update(&bob, record.clone(), 1).await, "bob updates");
    assert_not_found(
        store.delete::<VnfInstanceRecord>(&bob, &id, None).await,
        "bob deletes",
    );
    // The same id is free in bob's tenant, and so are unique keys.
    store
        .insert(&bob, record)
        .await
        .expect("bob may use the same id");
    store
        .insert(&alice, fixtures::vim(&new_id(), "shared-name", true))
        .await
        .expect("alice's default VIM");
    store
        .insert(&bob, fixtures::vim(&new_id(), "shared-name", true))
        .await
        .expect("bob's default VIM with the same name");
    let alice_still = store
        .get_typed::<VnfInstanceRecord>(&alice, &id)
        .await
        .expect("alice reads hers");
    assert_eq!(alice_still.version, 1);
}

/// While an operation is STARTING, PROCESSING, FAILED_TEMP or ROLLING_BACK on an
/// instance, no other operation can be created on it; final states free it.
pub async fn one_operation_in_progress_per_instance(store: &dyn Store) {
    let tenant = fresh_tenant();
    let instance = new_id();
    let other_instance = new_id();
    let first_id = new_id();
    let mut first = fixtures::op_occ(&first_id, &instance, Op::Instantiate, State::Starting);
    store
        .insert(&tenant, first.clone())
        .await
        .expect("first op");

    let second = fixtures::op_occ(&new_id(), &instance, Op::Scale, State::Starting);
    assert_in_progress(
        store.insert(&tenant, second.clone()).await,
        &instance,
        &first_id,
        "second op while STARTING",
    );
    store
        .insert(
            &tenant,
            fixtures::op_occ(&new_id(), &other_instance, Op::Scale, State::Starting),
        )
        .await
        .expect("an op on another instance is independent");

    let mut version = 1;
    for state in [State::Processing, State::FailedTemp, State::RollingBack] {
        first.op.operation_state = state;
        version = store
            .update(&tenant, first.clone(), version)
            .await
            .expect("advance first op");
        assert_in_progress(
            store.insert(&tenant, second.clone()).await,
            &instance,
            &first_id,
            &format!("second op while first is {state}"),
        );
    }
    first.op.operation_state = State::RolledBack;
    store
        .update(&tenant, first.clone(), version)
        .await
        .expect("first op ends");
    store
        .insert(&tenant, second)
        .await
        .expect("a new op is accepted once the first is final");

    // A final op may be re-read and re-written without holding the key.
    let final_first = store
        .get_typed::<OpOccRecord>(&tenant, &first_id)
        .await
        .expect("read final op");
    assert_eq!(final_first.value.op.operation_state, State::RolledBack);
}

/// `contenders` concurrent attempts to start an operation on one instance: exactly one
/// is accepted, every other gets `Conflict`.
pub async fn concurrent_starts_on_one_instance_have_one_winner(
    store: &dyn Store,
    contenders: usize,
) {
    let tenant = fresh_tenant();
    let instance = new_id();
    let attempts = (0..contenders).map(|_| {
        let op = fixtures::op_occ(&new_id(), &instance, Op::Heal, State::Starting);
        let tenant = tenant.clone();
        async move { store.insert(&tenant, op).await }
    });
    let results = join_all(attempts).await;
    let winners = results.iter().filter(|r| r.is_ok()).count();
    let conflicts = results
        .iter()
        .filter(|r| {
            matches!(
                r,
                Err(Error::OperationInProgress { .. } | Error::Conflict(_))
            )
        })
        .count();
    assert_eq!(winners, 1, "exactly one start wins: {results:?}");
    assert_eq!(
        conflicts,
        contenders - 1,
        "every other start is refused as a conflict (OperationInProgress)"
    );
    let listed = store
        .list_typed::<OpOccRecord>(&tenant, &ListQuery::all())
        .await
        .expect("list ops");
    assert_eq!(listed.items.len(), 1, "only the winner is stored");
}

/// One onboarded package per vnfdId, one VIM per name, one default VIM per tenant.
pub async fn unique_keys_of_packages_and_vims(store: &dyn Store) {
    let tenant = fresh_tenant();
    let vnfd = format!("vnfd-{}", new_id());
    store
        .insert(&tenant, fixtures::package(&new_id(), Some(&vnfd)))
        .await
        .expect("first onboarded package");
    assert_conflict(
        store
            .insert(&tenant, fixtures::package(&new_id(), Some(&vnfd)))
            .await,
        "a second onboarded package with the same vnfdId",
    );
    // Packages not yet onboarded hold no vnfdId key.
    store
        .insert(&tenant, fixtures::package(&new_id(), None))
        .await
        .expect("a CREATED package");

    let default_id = new_id();
    store
        .insert(&tenant, fixtures::vim(&default_id, "vim-a", true))
        .await
        .expect("default VIM");
    assert_conflict(
        store
            .insert(&tenant, fixtures::vim(&new_id(), "vim-a", false))
            .await,
        "a second VIM named vim-a",
    );
    assert_conflict(
        store
            .insert(&tenant, fixtures::vim(&new_id(), "vim-b", true))
            .await,
        "a second default VIM",
    );
    // Moving the default: clear the old one and set the new one in one commit.
    let new_default_id = new_id();
    store
        .insert(&tenant, fixtures::vim(&new_default_id, "vim-b", false))
        .await
        .expect("second VIM");
    let mut old = fixtures::vim(&default_id, "vim-a", false);
    old.is_default = false;
    let mut new = fixtures::vim(&new_default_id, "vim-b", true);
    new.is_default = true;
    store
        .commit(
            &tenant,
            vec![
                Write::Update {
                    record: old.into(),
                    expected_version: 1,
                },
                Write::Update {
                    record: new.into(),
                    expected_version: 1,
                },
            ],
        )
        .await
        .expect("move the default VIM in one commit");
    let defaults = store
        .list_typed::<VimRecord>(
            &tenant,
            &ListQuery::filtered(Filter::eq("isDefault", "true")),
        )
        .await
        .expect("list defaults");
    assert_eq!(defaults.items.len(), 1);
    assert_eq!(defaults.items[0].value.id, new_default_id);
}

/// A commit whose last write fails leaves no trace of the earlier ones.
pub async fn commit_is_all_or_nothing(store: &dyn Store) {
    let tenant = fresh_tenant();
    let existing_id = new_id();
    store
        .insert(&tenant, fixtures::instance(&existing_id, "vnfd-a", "old"))
        .await
        .expect("insert");
    let inserted_id = new_id();
    let subscription = new_id();
    store
        .insert(
            &tenant,
            fixtures::lccn_subscription(&subscription, "http://127.0.0.1:9/cb"),
        )
        .await
        .expect("subscription");
    let result = store
        .commit(
            &tenant,
            vec![
                Write::Insert(fixtures::instance(&inserted_id, "vnfd-a", "new").into()),
                Write::Notify(NewNotification {
                    subscription_id: subscription.clone(),
                    payload: serde_json::json!({"id": "lost"}),
                }),
                Write::Update {
                    record: fixtures::instance(&existing_id, "vnfd-a", "renamed").into(),
                    expected_version: 7,
                },
            ],
        )
        .await;
    assert_stale(result, "commit with a stale update");
    assert_not_found(
        store
            .get_typed::<VnfInstanceRecord>(&tenant, &inserted_id)
            .await,
        "the insert of a failed commit",
    );
    let old = store
        .get_typed::<VnfInstanceRecord>(&tenant, &existing_id)
        .await
        .expect("get");
    assert_eq!(old.value.instance.vnf_instance_name.as_deref(), Some("old"));
    let queued = claim_for(store, &tenant, "all-or-nothing").await;
    assert!(
        queued.is_empty(),
        "no notification of a failed commit: {queued:?}"
    );
}

/// A `Check` write lets a commit through only while the record it names is at the
/// version read, and never changes that record; racing an update, exactly one of the
/// two commits wins.
pub async fn checks_commit_only_on_unchanged_records(store: &dyn Store) {
    let tenant = fresh_tenant();
    let instance_id = new_id();
    let version = store
        .insert(
            &tenant,
            fixtures::instance(&instance_id, "vnfd-a", "checked"),
        )
        .await
        .expect("insert");
    let check = |expected_version| Write::Check {
        kind: RecordKind::VnfInstance,
        id: instance_id.clone(),
        expected_version,
    };
    let first_op = new_id();
    store
        .commit(
            &tenant,
            vec![
                Write::Insert(
                    fixtures::op_occ(&first_op, &instance_id, Op::Scale, State::Completed).into(),
                ),
                check(version),
            ],
        )
        .await
        .expect("a check on the current version passes");
    let after = store
        .get_typed::<VnfInstanceRecord>(&tenant, &instance_id)
        .await
        .expect("get");
    assert_eq!(after.version, version, "a check changes no version");
    let updated = store
        .update(
            &tenant,
            fixtures::instance(&instance_id, "vnfd-a", "renamed"),
            version,
        )
        .await
        .expect("update");
    let stale_op = new_id();
    assert_stale(
        store
            .commit(
                &tenant,
                vec![
                    Write::Insert(
                        fixtures::op_occ(&stale_op, &instance_id, Op::Scale, State::Starting)
                            .into(),
                    ),
                    check(version),
                ],
            )
            .await,
        "a check on a stale version",
    );
    assert_not_found(
        store.get_typed::<OpOccRecord>(&tenant, &stale_op).await,
        "the insert beside a failed check",
    );
    assert_not_found(
        store
            .commit(
                &tenant,
                vec![Write::Check {
                    kind: RecordKind::VnfInstance,
                    id: new_id(),
                    expected_version: 1,
                }],
            )
            .await,
        "a check on a missing record",
    );
    // Races: every round, an update and a check-guarded insert read the same version;
    // never both commit.
    let mut current = updated;
    for round in 0..20 {
        let op_id = new_id();
        let guarded = store.commit(
            &tenant,
            vec![
                Write::Insert(
                    fixtures::op_occ(&op_id, &instance_id, Op::Scale, State::Completed).into(),
                ),
                check(current),
            ],
        );
        let update = store.update(
            &tenant,
            fixtures::instance(&instance_id, "vnfd-a", &format!("round {round}")),
            current,
        );
        let (guarded, update) = futures::join!(guarded, update);
        match (&guarded, &update) {
            (Ok(_), Ok(_)) => {
                // Both may pass only when the check ran wholly before the update.
                let op = store.get_typed::<OpOccRecord>(&tenant, &op_id).await;
                assert!(op.is_ok(), "round {round}: the guarded insert is stored");
            }
            (Err(Error::StaleVersion { .. }), Ok(_)) => {}
            other => panic!("round {round}: unexpected outcome {other:?}"),
        }
        current = update.expect("the update always wins or goes first");
    }
}

/// Filters select by the ETSI view, order is by id, and keyset paging visits every
/// record exactly once even when records are added between pages.
pub async fn listing_filters_orders_and_pages(store: &dyn Store) {
    let tenant = fresh_tenant();
    let mut ids = Vec::new();
    for n in 0..25 {
        let id = new_id();
        let mut record = fixtures::instance(&id, "vnfd-list", &format!("vnf-{n:02}"));
        if n % 5 == 0 {
            record.instance.instantiation_state = InstantiationState::Instantiated;
            record.instance.vnf_provider = "Other".into();
        }
        store.insert(&tenant, record).await.expect("insert");
        ids.push(id);
    }
    let mut sorted = ids.clone();
    sorted.sort();

    let instantiated = store
        .list_typed::<VnfInstanceRecord>(
            &tenant,
            &ListQuery::filtered(
                Filter::parse("(eq,instantiationState,INSTANTIATED);(in,vnfProvider,Other,None)")
                    .expect("filter"),
            ),
        )
        .await
        .expect("filtered list");
    assert_eq!(instantiated.items.len(), 5);
    assert!(instantiated.next_marker.is_none());

    let mut seen = Vec::new();
    let mut marker = None;
    let mut pages = 0;
    loop {
        let page = store
            .list_typed::<VnfInstanceRecord>(
                &tenant,
                &ListQuery::all().with_limit(10).after(marker),
            )
            .await
            .expect("page");
        pages += 1;
        assert!(pages <= 4, "paging must end");
        seen.extend(page.items.iter().map(|v| v.value.instance.id.clone()));
        if pages == 1 {
            // A record created while paging sorts after every existing one.
            let late = new_id();
            store
                .insert(&tenant, fixtures::instance(&late, "vnfd-list", "late"))
                .await
                .expect("insert late");
            sorted.push(late);
        }
        match page.next_marker {
            Some(next) => marker = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, sorted, "pages visit every record once, in id order");

    let filtered_pages = store
        .list_typed::<VnfInstanceRecord>(
            &tenant,
            &ListQuery::filtered(Filter::eq("instantiationState", "NOT_INSTANTIATED"))
                .with_limit(7),
        )
        .await
        .expect("filtered page");
    assert_eq!(filtered_pages.items.len(), 7);
    assert!(filtered_pages.next_marker.is_some());
    assert!(
        store
            .list(
                &tenant,
                RecordKind::VnfInstance,
                &ListQuery::all().after(Some("not a marker!".into()))
            )
            .await
            .is_err(),
        "a forged marker is refused"
    );
}

/// [`Store::list_summaries`] gives, page by page and under a filter, the summary of
/// each record [`Store::list`] gives, with the same markers; a summary follows its
/// record's updates and holds none of the complex attributes (credentials among them).
pub async fn summaries_list_what_records_list(store: &dyn Store) {
    let tenant = fresh_tenant();
    let instance_ids: Vec<String> = (0..9).map(|_| new_id()).collect();
    for (n, id) in instance_ids.iter().enumerate() {
        let mut record = fixtures::instance(id, "vnfd-summaries", &format!("vnf-{n}"));
        if n % 3 == 0 {
            record.instance.instantiation_state = InstantiationState::Instantiated;
            let mut access = crate::model::KeyValuePairs::new();
            access.insert("password".into(), serde_json::json!("summary-secret"));
            record.instance.vim_connection_info.insert(
                "vim1".into(),
                crate::model::VimConnectionInfo {
                    vim_id: Some("vim-1".into()),
                    vim_type: "ETSINFV.OPENSTACK_KEYSTONE.V_3".into(),
                    interface_info: crate::model::KeyValuePairs::new(),
                    access_info: access,
                    extra: crate::model::KeyValuePairs::new(),
                },
            );
        }
        store
            .insert(&tenant, record)
            .await
            .expect("insert instance");
    }
    for id in &instance_ids[..4] {
        store
            .insert(
                &tenant,
                fixtures::op_occ(&new_id(), id, Op::Instantiate, State::Completed),
            )
            .await
            .expect("insert op");
    }
    for n in 0..5 {
        store
            .insert(
                &tenant,
                fixtures::package(&new_id(), Some(&format!("vnfd-summaries-{n}"))),
            )
            .await
            .expect("insert package");
    }
    let queries = [
        ListQuery::all(),
        ListQuery::all().with_limit(4),
        ListQuery::filtered(Filter::eq("instantiationState", "INSTANTIATED")).with_limit(2),
        ListQuery::filtered(Filter::eq("vnfInstanceName", "vnf-4")),
    ];
    for kind in [
        RecordKind::VnfInstance,
        RecordKind::VnfLcmOpOcc,
        RecordKind::VnfPackage,
    ] {
        for query in &queries {
            let mut query = query.clone();
            let mut pages = 0;
            loop {
                pages += 1;
                assert!(pages <= 10, "paging must end");
                let records = store.list(&tenant, kind, &query).await.expect("list");
                let summaries = store
                    .list_summaries(&tenant, kind, &query)
                    .await
                    .expect("list summaries");
                let expected: Vec<String> =
                    records.items.iter().map(|r| r.value.summary()).collect();
                assert_eq!(summaries.items, expected, "{kind:?} {query:?}");
                assert_eq!(summaries.next_marker, records.next_marker, "{kind:?}");
                for summary in &summaries.items {
                    let view: serde_json::Value =
                        serde_json::from_str(summary).expect("a summary is JSON");
                    for name in kind.complex_attributes().unwrap_or_default() {
                        assert!(view.get(*name).is_none(), "{kind:?} summary holds {name}");
                    }
                    assert!(!summary.contains("summary-secret"), "{summary}");
                }
                match records.next_marker {
                    Some(marker) => query = query.after(Some(marker)),
                    None => break,
                }
            }
        }
    }
    let updated = &instance_ids[1];
    let current = store
        .get_typed::<VnfInstanceRecord>(&tenant, updated)
        .await
        .expect("get");
    let mut record = current.value;
    record.instance.vnf_instance_name = Some("renamed".into());
    store
        .update(&tenant, record, current.version)
        .await
        .expect("update");
    let page = store
        .list_summaries(
            &tenant,
            RecordKind::VnfInstance,
            &ListQuery::filtered(Filter::eq("id", updated.as_str())),
        )
        .await
        .expect("list the updated instance");
    assert_eq!(page.items.len(), 1);
    assert!(
        page.items[0].contains("\"vnfInstanceName\":\"renamed\""),
        "{}",
        page.items[0]
    );
}

/// A filter cannot test a credential (an oracle that would give a secret away a
/// character at a time): `accessInfo` and secret request parameters are not in the view
/// filters see, so a term on them matches nothing, however right the guess.
pub async fn filters_never_test_credentials(store: &dyn Store) {
    let tenant = fresh_tenant();
    let id = new_id();
    let mut record = fixtures::instance(&id, "vnfd-secrets", "vnf-secrets");
    let mut access = crate::model::KeyValuePairs::new();
    access.insert("password".into(), serde_json::json!("s3cret-pw"));
    let vim = crate::model::VimConnectionInfo {
        vim_id: Some("vim-1".into()),
        vim_type: "ETSINFV.OPENSTACK_KEYSTONE.V_3".into(),
        interface_info: crate::model::KeyValuePairs::new(),
        access_info: access,
        extra: crate::model::KeyValuePairs::new(),
    };
    record
        .instance
        .vim_connection_info
        .insert("vim1".into(), vim.clone());
    store
        .insert(&tenant, record)
        .await
        .expect("insert instance");
    let mut op = fixtures::op_occ(&new_id(), &id, Op::Instantiate, State::Processing);
    op.op.operation_params = Some(serde_json::json!({
        "flavourId": "simple",
        "vimConnectionInfo": {"vim1": vim},
        "additionalParams": {"k8s_cluster_installation_param": {"password": "s3cret-ssh"}},
    }));
    store.insert(&tenant, op).await.expect("insert op");
    let probes = [
        (
            RecordKind::VnfInstance,
            "(eq,vimConnectionInfo/vim1/accessInfo/password,s3cret-pw)",
        ),
        (
            RecordKind::VnfInstance,
            "(cont,vimConnectionInfo/vim1/accessInfo/password,s3)",
        ),
        (
            RecordKind::VnfLcmOpOcc,
            "(eq,operationParams/vimConnectionInfo/vim1/accessInfo/password,s3cret-pw)",
        ),
        (
            RecordKind::VnfLcmOpOcc,
            "(cont,operationParams/additionalParams/k8s_cluster_installation_param/password,s3)",
        ),
    ];
    for (kind, filter) in probes {
        let query = ListQuery::filtered(Filter::parse(filter).expect("filter"));
        let found = store.list(&tenant, kind, &query).await.expect("list");
        assert!(found.items.is_empty(), "{filter} matched a credential");
    }
    // The rest of the same entries stays filterable.
    let query = ListQuery::filtered(
        Filter::parse("(eq,vimConnectionInfo/vim1/vimId,vim-1)").expect("filter"),
    );
    let found = store
        .list(&tenant, RecordKind::VnfInstance, &query)
        .await
        .expect("list");
    assert_eq!(found.items.len(), 1);
}

async fn claim_for(
    store: &dyn Store,
    tenant: &TenantId,
    owner: &str,
) -> Vec<crate::store::OutboxEntry> {
    let claimed = store
        .claim_notifications(owner, Utc::now(), Duration::from_secs(30), 10_000)
        .await
        .expect("claim notifications");
    let (mine, others): (Vec<_>, Vec<_>) = claimed.into_iter().partition(|e| &e.tenant == tenant);
    for entry in others {
        // Leave other checks' notifications claimable again.
        store
            .retry_notification(&entry, Utc::now(), "not this check's")
            .await
            .expect("give back");
    }
    mine
}

/// A state change and its notifications are committed together.
pub async fn notifications_commit_with_their_state_change(store: &dyn Store) {
    let tenant = fresh_tenant();
    let subscription = new_id();
    store
        .insert(
            &tenant,
            fixtures::lccn_subscription(&subscription, "http://127.0.0.1:9/cb"),
        )
        .await
        .expect("subscription");
    let op_id = new_id();
    let instance = new_id();
    let mut op = fixtures::op_occ(&op_id, &instance, Op::Instantiate, State::Starting);
    store
        .commit(
            &tenant,
            vec![
                Write::Insert(op.clone().into()),
                Write::Notify(NewNotification {
                    subscription_id: subscription.clone(),
                    payload: serde_json::json!({"id": "n1", "operationState": "STARTING"}),
                }),
            ],
        )
        .await
        .expect("start op with its notification");
    op.op.operation_state = State::Processing;
    store
        .commit(
            &tenant,
            vec![
                Write::Update {
                    record: op.clone().into(),
                    expected_version: 1,
                },
                Write::Notify(NewNotification {
                    subscription_id: subscription.clone(),
                    payload: serde_json::json!({"id": "n2", "operationState": "PROCESSING"}),
                }),
            ],
        )
        .await
        .expect("advance op with its notification");
    let notification_for_nobody = store
        .commit(
            &tenant,
            vec![Write::Notify(NewNotification {
                subscription_id: new_id(),
                payload: serde_json::json!({"id": "void"}),
            })],
        )
        .await;
    assert!(
        notification_for_nobody.is_ok(),
        "a notification for a deleted subscription is dropped, not an error"
    );

    let first = claim_for(store, &tenant, "sender").await;
    assert_eq!(first.len(), 1, "one subscription, one head entry");
    assert_eq!(first[0].payload["id"], "n1");
    assert_eq!(first[0].subscription_id, subscription);
    store.ack_notification(&first[0]).await.expect("ack");
    let second = claim_for(store, &tenant, "sender").await;
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].payload["id"], "n2");
    store.ack_notification(&second[0]).await.expect("ack");
    assert!(
        claim_for(store, &tenant, "sender").await.is_empty(),
        "outbox drained"
    );
}

/// Only the oldest undelivered notification of a subscription is claimable; a failed
/// one blocks its successors until it is retried and delivered; claims exclude each
/// other until they expire.
pub async fn outbox_delivers_in_order_per_subscription(store: &dyn Store) {
    let tenant = fresh_tenant();
    let a = new_id();
    let b = new_id();
    for sub in [&a, &b] {
        store
            .insert(
                &tenant,
                fixtures::lccn_subscription(sub, "http://127.0.0.1:9/cb"),
            )
            .await
            .expect("subscription");
    }
    let mut writes = Vec::new();
    for n in 0..3 {
        for sub in [&a, &b] {
            writes.push(Write::Notify(NewNotification {
                subscription_id: sub.clone(),
                payload: serde_json::json!({"id": format!("{sub}-{n}"), "n": n}),
            }));
        }
    }
    store.commit(&tenant, writes).await.expect("queue");

    let heads = claim_for(store, &tenant, "sender-1").await;
    assert_eq!(heads.len(), 2, "one head per subscription");
    assert!(heads.iter().all(|e| e.payload["n"] == 0));
    assert!(
        claim_for(store, &tenant, "sender-2").await.is_empty(),
        "claimed heads block their subscriptions for other senders"
    );

    let head_a = heads
        .iter()
        .find(|e| e.subscription_id == a)
        .expect("head of a");
    let head_b = heads
        .iter()
        .find(|e| e.subscription_id == b)
        .expect("head of b");
    store.ack_notification(head_b).await.expect("ack b0");
    let later = Utc::now() + chrono::Duration::seconds(3600);
    store
        .retry_notification(head_a, later, "connection refused")
        .await
        .expect("retry a0 later");

    let next = claim_for(store, &tenant, "sender-2").await;
    assert_eq!(next.len(), 1, "a is blocked by its failed head; b moves on");
    assert_eq!(next[0].subscription_id, b);
    assert_eq!(next[0].payload["n"], 1);
    store.ack_notification(&next[0]).await.expect("ack b1");

    let due = store
        .claim_notifications(
            "sender-3",
            later + chrono::Duration::seconds(1),
            Duration::from_secs(30),
            10_000,
        )
        .await
        .expect("claim when due");
    let retried = due
        .iter()
        .find(|e| e.tenant == tenant && e.subscription_id == a)
        .expect("a0 is due again");
    assert_eq!(retried.payload["n"], 0, "the failed head comes back first");
    assert_eq!(retried.attempts, 1);
    assert_eq!(retried.last_error.as_deref(), Some("connection refused"));
    for entry in &due {
        if entry.tenant != tenant {
            store
                .retry_notification(entry, Utc::now(), "not this check's")
                .await
                .expect("give back");
        }
    }

    // An expired claim can be taken over.
    let far = later + chrono::Duration::seconds(3600);
    let taken_over = store
        .claim_notifications("sender-4", far, Duration::from_secs(30), 10_000)
        .await
        .expect("claim after expiry");
    let mine: Vec<_> = taken_over.iter().filter(|e| e.tenant == tenant).collect();
    assert!(
        mine.iter()
            .any(|e| e.subscription_id == a && e.payload["n"] == 0),
        "an expired claim is claimable again"
    );
    for entry in taken_over.iter().filter(|e| e.tenant != tenant) {
        store
            .retry_notification(entry, Utc::now(), "not this check's")
            .await
            .expect("give back");
    }
}

/// Deleting a subscription removes its queued notifications.
pub async fn deleting_a_subscription_drops_its_notifications(store: &dyn Store) {
    let tenant = fresh_tenant();
    let sub = new_id();
    store
        .insert(
            &tenant,
            fixtures::pkgm_subscription(&sub, "http://127.0.0.1:9/cb"),
        )
        .await
        .expect("subscription");
    let depth = store.outbox_depth().await.expect("outbox depth");
    store
        .commit(
            &tenant,
            vec![Write::Notify(NewNotification {
                subscription_id: sub.clone(),
                payload: serde_json::json!({"id": "doomed"}),
            })],
        )
        .await
        .expect("queue");
    assert_eq!(
        store.outbox_depth().await.expect("outbox depth"),
        depth + 1,
        "the outbox depth counts the queued notification"
    );
    store
        .delete::<crate::store::PkgmSubscriptionRecord>(&tenant, &sub, None)
        .await
        .expect("delete subscription");
    assert!(claim_for(store, &tenant, "sender").await.is_empty());
    assert_eq!(store.outbox_depth().await.expect("outbox depth"), depth);
}

/// Runnable ops are claimed by one executor at a time; a lease can be renewed by its
/// owner only; an expired lease is taken over and reports the previous owner; an op
/// that reaches FAILED_TEMP or a final state is no longer claimable.
pub async fn op_leases_are_exclusive_and_expire(store: &dyn Store) {
    let tenant = fresh_tenant();
    let ttl = Duration::from_secs(60);
    let now = Utc::now();
    let runnable_id = new_id();
    let done_id = new_id();
    store
        .insert(
            &tenant,
            fixtures::op_occ(&runnable_id, &new_id(), Op::Instantiate, State::Starting),
        )
        .await
        .expect("runnable op");
    store
        .insert(
            &tenant,
            fixtures::op_occ(&done_id, &new_id(), Op::Instantiate, State::Completed),
        )
        .await
        .expect("completed op");

    let mine = |claimed: Vec<crate::store::ClaimedOp>| -> Vec<crate::store::ClaimedOp> {
        claimed.into_iter().filter(|c| c.tenant == tenant).collect()
    };
    let first = mine(
        store
            .claim_ops("exec-1", now, ttl, 10_000)
            .await
            .expect("claim"),
    );
    assert_eq!(first.len(), 1, "only the runnable op is claimed");
    let claim = &first[0];
    assert_eq!(claim.op.value.op.id, runnable_id);
    assert_eq!(claim.expired_owner, None);
    assert_eq!(claim.lease.owner, "exec-1");

    let second = mine(
        store
            .claim_ops("exec-2", now, ttl, 10_000)
            .await
            .expect("claim"),
    );
    assert!(second.is_empty(), "a held lease excludes other executors");

    let later = now + chrono::Duration::seconds(30);
    let renewed = store
        .renew_op_lease(&claim.lease, later, ttl)
        .await
        .expect("owner renews");
    assert!(renewed.expires_at > claim.lease.expires_at);
    let mut stolen = claim.lease.clone();
    stolen.owner = "exec-2".into();
    assert_conflict(
        store.renew_op_lease(&stolen, later, ttl).await,
        "renewal by a non-owner",
    );

    let after_expiry = renewed.expires_at + chrono::Duration::seconds(1);
    let taken = mine(
        store
            .claim_ops("exec-2", after_expiry, ttl, 10_000)
            .await
            .expect("claim after expiry"),
    );
    assert_eq!(taken.len(), 1, "an expired lease is taken over");
    assert_eq!(taken[0].expired_owner.as_deref(), Some("exec-1"));
    assert_conflict(
        store.renew_op_lease(&renewed, after_expiry, ttl).await,
        "the old owner cannot renew a lease taken over",
    );

    store
        .release_op_lease(&taken[0].lease)
        .await
        .expect("release");
    store
        .release_op_lease(&taken[0].lease)
        .await
        .expect("release is idempotent");
    let again = mine(
        store
            .claim_ops("exec-3", after_expiry, ttl, 10_000)
            .await
            .expect("claim released"),
    );
    assert_eq!(again.len(), 1, "a released op is claimable");
    assert_eq!(
        again[0].expired_owner, None,
        "a released lease is not an expired one"
    );

    let mut op = again[0].op.value.clone();
    op.op.operation_state = State::FailedTemp;
    store
        .update(&tenant, op, again[0].op.version)
        .await
        .expect("op fails temporarily");
    let far = after_expiry + chrono::Duration::seconds(3600);
    let none = mine(
        store
            .claim_ops("exec-4", far, ttl, 10_000)
            .await
            .expect("claim"),
    );
    assert!(
        none.is_empty(),
        "FAILED_TEMP ops wait for retry, rollback or fail"
    );
}

/// Many executors claiming at once never receive the same op twice.
pub async fn concurrent_claims_never_share_an_op(store: &dyn Store) {
    let tenant = fresh_tenant();
    let mut ids = HashSet::new();
    for _ in 0..20 {
        let id = new_id();
        store
            .insert(
                &tenant,
                fixtures::op_occ(&id, &new_id(), Op::Scale, State::Processing),
            )
            .await
            .expect("op");
        ids.insert(id);
    }
    let now = Utc::now();
    let claims = (0..8).map(|n| async move {
        store
            .claim_ops(&format!("exec-{n}"), now, Duration::from_secs(60), 3)
            .await
            .expect("claim")
    });
    let mut claimed_ids = Vec::new();
    let mut remaining = 0;
    for batch in join_all(claims).await {
        for claim in batch {
            if claim.tenant == tenant {
                claimed_ids.push(claim.op.value.op.id.clone());
            } else {
                store
                    .release_op_lease(&claim.lease)
                    .await
                    .expect("give back");
                remaining += 1;
            }
        }
    }
    let unique: HashSet<_> = claimed_ids.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        claimed_ids.len(),
        "no op claimed twice: {claimed_ids:?}"
    );
    assert!(unique.is_subset(&ids));
    let _ = remaining;
}

/// A fault has at most one active alarm; once it is cleared, the fault may raise a new
/// one. Alarms filter by `managedObjectId` and by attributes of the alarm.
pub async fn one_active_alarm_per_fault(store: &dyn Store) {
    use crate::store::AlarmRecord;
    let tenant = fresh_tenant();
    let instance = new_id();
    let first = fixtures::alarm(&new_id(), &instance, "vnfc-1");
    store
        .insert(&tenant, first.clone())
        .await
        .expect("first alarm");
    assert_conflict(
        store
            .insert(&tenant, fixtures::alarm(&new_id(), &instance, "vnfc-1"))
            .await,
        "a second active alarm for the same fault",
    );
    let other_vnfc = fixtures::alarm(&new_id(), &instance, "vnfc-2");
    store
        .insert(&tenant, other_vnfc.clone())
        .await
        .expect("an alarm of another VNFC");
    let elsewhere = fresh_tenant();
    store
        .insert(&elsewhere, fixtures::alarm(&new_id(), &instance, "vnfc-1"))
        .await
        .expect("the same fault in another tenant");

    let mut cleared = first.clone();
    cleared.alarm.alarm_cleared_time = Some(Utc::now());
    cleared.alarm.perceived_severity = crate::model::PerceivedSeverityType::Cleared;
    store
        .update(&tenant, cleared, 1)
        .await
        .expect("clear the first alarm");
    let again = fixtures::alarm(&new_id(), &instance, "vnfc-1");
    store
        .insert(&tenant, again.clone())
        .await
        .expect("the fault raises a new alarm after the old one cleared");

    let filter = Filter::parse(&format!("(eq,managedObjectId,{instance})")).expect("filter");
    let page = store
        .list_typed::<AlarmRecord>(&tenant, &ListQuery::filtered(filter))
        .await
        .expect("list by managedObjectId");
    let ids: Vec<&str> = page
        .items
        .iter()
        .map(|a| a.value.alarm.id.as_str())
        .collect();
    let mut expected = vec![
        first.alarm.id.as_str(),
        other_vnfc.alarm.id.as_str(),
        again.alarm.id.as_str(),
    ];
    expected.sort_unstable();
    assert_eq!(ids, expected, "the tenant's alarms of the instance, by id");
    let filter = Filter::parse("(eq,perceivedSeverity,CLEARED)").expect("filter");
    let page = store
        .list_typed::<AlarmRecord>(&tenant, &ListQuery::filtered(filter))
        .await
        .expect("list by severity");
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].value.alarm.id, first.alarm.id);
}

/// An alarm and its notifications to FM subscriptions commit together; a notification
/// for an FM subscription is claimable, and deleting the subscription drops it.
pub async fn fm_notifications_queue_with_their_alarm(store: &dyn Store) {
    let tenant = fresh_tenant();
    let sub = new_id();
    store
        .insert(
            &tenant,
            fixtures::fm_subscription(&sub, "http://127.0.0.1:9/fm"),
        )
        .await
        .expect("FM subscription");
    let instance = new_id();
    let alarm = fixtures::alarm(&new_id(), &instance, "vnfc-1");
    store
        .commit(
            &tenant,
            vec![
                Write::Insert(alarm.clone().into()),
                Write::Notify(NewNotification {
                    subscription_id: sub.clone(),
                    payload: serde_json::json!({"notificationType": "AlarmNotification"}),
                }),
            ],
        )
        .await
        .expect("alarm and notification");
    // A failing commit queues nothing: the duplicate alarm takes its notification down.
    assert_conflict(
        store
            .commit(
                &tenant,
                vec![
                    Write::Notify(NewNotification {
                        subscription_id: sub.clone(),
                        payload: serde_json::json!({"notificationType": "lost"}),
                    }),
                    Write::Insert(fixtures::alarm(&new_id(), &instance, "vnfc-1").into()),
                ],
            )
            .await,
        "a duplicate active alarm",
    );
    let claimed = claim_for(store, &tenant, "fm-sender").await;
    assert_eq!(claimed.len(), 1, "one notification for the FM subscription");
    assert_eq!(claimed[0].subscription_id, sub);
    assert_eq!(claimed[0].payload["notificationType"], "AlarmNotification");
    store
        .ack_notification(&claimed[0])
        .await
        .expect("acknowledge");
    store
        .commit(
            &tenant,
            vec![Write::Notify(NewNotification {
                subscription_id: sub.clone(),
                payload: serde_json::json!({"notificationType": "AlarmClearedNotification"}),
            })],
        )
        .await
        .expect("queue");
    store
        .delete::<crate::store::FmSubscriptionRecord>(&tenant, &sub, None)
        .await
        .expect("delete subscription");
    assert!(claim_for(store, &tenant, "fm-sender").await.is_empty());
}

/// Writers that read a driver state, change it and write it back at the version they
/// read (retrying on `Conflict`) lose none of each other's changes; the kind has no ETSI
/// unique keys, and its records stay within their tenant.
pub async fn concurrent_driver_state_updates_lose_nothing(store: &dyn Store, writers: usize) {
    use crate::store::DriverStateRecord;
    let tenant = fresh_tenant();
    let id = format!("sim/{}", new_id());
    let mut initial = fixtures::driver_state(&id, &new_id());
    initial.state = serde_json::json!({"added": []});
    store
        .insert(&tenant, initial)
        .await
        .expect("insert the driver state");
    let add = |n: usize| {
        let tenant = tenant.clone();
        let id = id.clone();
        async move {
            for _attempt in 0..200 {
                let read = store
                    .get_typed::<DriverStateRecord>(&tenant, &id)
                    .await
                    .expect("read the driver state");
                let mut value = read.value;
                if let Some(added) = value.state["added"].as_array_mut() {
                    added.push(serde_json::json!(n));
                }
                match store.update(&tenant, value, read.version).await {
                    Ok(_) => return,
                    Err(Error::StaleVersion { .. }) => tokio::task::yield_now().await,
                    Err(other) => panic!("update the driver state: {other}"),
                }
            }
            panic!("writer {n} never got its update in");
        }
    };
    join_all((0..writers).map(add)).await;
    let read = store
        .get_typed::<DriverStateRecord>(&tenant, &id)
        .await
        .expect("read back");
    let mut added: Vec<u64> = read.value.state["added"]
        .as_array()
        .map(|a| a.iter().filter_map(serde_json::Value::as_u64).collect())
        .unwrap_or_default();
    added.sort_unstable();
    let expected: Vec<u64> = (0..writers as u64).collect();
    assert_eq!(added, expected, "every writer's change is kept");
    assert_eq!(read.version, 1 + writers as u64, "one version per change");
    assert_not_found(
        store
            .get(&fresh_tenant(), RecordKind::DriverState, &id)
            .await,
        "a driver state of another tenant",
    );
}

/// Each kind of JSON value is found by the filters that match it: numbers by their
/// value whatever its spelling, booleans and null by their words, long strings, strings
/// in arrays and in objects in arrays, and orderings compare numbers as numbers and
/// strings byte by byte.
pub async fn filters_find_every_kind_of_value(store: &dyn Store) {
    use serde_json::json;
    let tenant = fresh_tenant();
    let long = format!("{}tail", "x".repeat(400));
    let values = [
        json!(1),
        json!(2.5),
        json!(true),
        serde_json::Value::Null,
        json!(long),
        json!(["a", "b"]),
        json!([{"k": "deep"}, {"k": 10}]),
        json!("Zebra"),
        json!("apple"),
    ];
    let mut ids = Vec::new();
    for value in &values {
        let id = new_id();
        let mut record = fixtures::instance(&id, "vnfd-values", "values");
        record.instance.metadata.insert("v".into(), value.clone());
        store.insert(&tenant, record).await.expect("insert");
        ids.push(id);
    }
    let cases: &[(&str, &[usize])] = &[
        ("(eq,metadata/v,1)", &[0]),
        ("(eq,metadata/v,1.0)", &[0]),
        ("(eq,metadata/v,1e0)", &[0]),
        ("(in,metadata/v,2.50,true)", &[1, 2]),
        ("(eq,metadata/v,null)", &[3]),
        (&*format!("(eq,metadata/v,{long})"), &[4]),
        ("(cont,metadata/v,tail)", &[4]),
        ("(eq,metadata/v,b)", &[5]),
        ("(eq,metadata/v/k,deep)", &[6]),
        ("(gt,metadata/v/k,9.5)", &[6]),
        // Numbers from 2.5 up, and every string from "2.5" up in byte order.
        ("(gte,metadata/v,2.5)", &[1, 4, 5, 7, 8]),
        ("(lt,metadata/v,2)", &[0]),
        // Byte order: upper case sorts before lower case.
        ("(lt,metadata/v,a)", &[7]),
        ("(gt,metadata/v,Zz)", &[4, 5, 8]),
        ("(cont,metadata/v,ebr)", &[7]),
        (
            "(neq,metadata/v,1);(eq,vnfdId,vnfd-values);(cont,metadata/v,pp)",
            &[8],
        ),
    ];
    for (filter, wanted) in cases {
        let query = ListQuery::filtered(Filter::parse(filter).expect("filter"));
        let found: Vec<String> = store
            .list(&tenant, RecordKind::VnfInstance, &query)
            .await
            .expect("list")
            .items
            .into_iter()
            .map(|r| r.value.id().to_owned())
            .collect();
        let wanted: Vec<String> = wanted.iter().map(|n| ids[*n].clone()).collect();
        assert_eq!(found, wanted, "{filter}");
    }
}

/// A small deterministic generator (SplitMix64) for the randomised suite.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap_or_default()
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn text(&mut self, items: &[&'static str]) -> &'static str {
        items[self.below(items.len())]
    }
}

/// Texts the randomised filter suite draws from: prefixes of each other, numbers as
/// text, the words of JSON's literals, a string longer than any index keeps, multibyte.
const TEXTS: &[&str] = &[
    "a", "ab", "abc", "b", "B", "", "1", "1.0", "1e0", "2", "10", "-1", "2.5", "true", "false",
    "null", "é", "zé", "0",
];

fn long_text() -> String {
    format!("{}q", "z".repeat(300))
}

fn random_scalar(dice: &mut Dice) -> serde_json::Value {
    use serde_json::json;
    match dice.below(9) {
        0..=3 => json!(dice.pick(TEXTS)),
        4 => json!(dice.pick(&[0.0, 1.0, 1.5, 2.0, -1.0, 10.0, 2.5])),
        5 => json!(dice.pick(&[0, 1, 2, 10, -1])),
        6 => json!(dice.below(2) == 0),
        7 => serde_json::Value::Null,
        _ => json!(dice.pick(&[long_text(), "x\u{0}y".to_owned()])),
    }
}

fn random_value(dice: &mut Dice, depth: usize) -> serde_json::Value {
    match (dice.below(5), depth) {
        (0, d) if d < 2 => serde_json::Value::Array(
            (0..dice.below(4))
                .map(|_| random_value(dice, d + 1))
                .collect(),
        ),
        (1, d) if d < 2 => {
            let mut map = serde_json::Map::new();
            for _ in 0..dice.below(3) {
                map.insert(
                    (*dice.pick(&["k1", "k2", "k3"])).to_owned(),
                    random_value(dice, d + 1),
                );
            }
            serde_json::Value::Object(map)
        }
        _ => random_scalar(dice),
    }
}

fn random_instance(dice: &mut Dice, id: &str) -> Record {
    let mut record =
        fixtures::instance(id, dice.text(&["vnfd-a", "vnfd-b", "1"]), dice.text(TEXTS));
    let instance = &mut record.instance;
    instance.vnf_instance_description = match dice.below(3) {
        0 => None,
        1 => Some(long_text()),
        _ => Some((*dice.pick(TEXTS)).to_owned()),
    };
    instance.vnf_software_version = (*dice.pick(TEXTS)).to_owned();
    for _ in 0..dice.below(4) {
        let key = (*dice.pick(&["k1", "k2", "k3"])).to_owned();
        let value = random_value(dice, 0);
        instance.metadata.insert(key, value);
    }
    if dice.below(3) == 0 {
        instance
            .extensions
            .insert("k1".into(), random_value(dice, 1));
    }
    record.into()
}

fn random_filter(dice: &mut Dice) -> Filter {
    const PATHS: &[&str] = &[
        "metadata/k1",
        "metadata/k2",
        "metadata/k1",
        "metadata/k2",
        "metadata/k1/k2",
        "metadata/k2/k3",
        "metadata/k3/k1/k2",
        "metadata",
        "extensions/k1",
        "extensions/k1/k1",
        "vnfInstanceDescription",
        "vnfSoftwareVersion",
        "vnfdId",
        "vnfInstanceName",
        "instantiationState",
        "missing/k1",
    ];
    const OPS: &[FilterOp] = &[
        FilterOp::Eq,
        FilterOp::Neq,
        FilterOp::In,
        FilterOp::Nin,
        FilterOp::Gt,
        FilterOp::Gte,
        FilterOp::Lt,
        FilterOp::Lte,
        FilterOp::Cont,
        FilterOp::Ncont,
    ];
    let mut filter = Filter::default();
    for _ in 0..=dice.below(3) {
        let op = *dice.pick(OPS);
        let count = match op {
            FilterOp::In | FilterOp::Nin | FilterOp::Cont | FilterOp::Ncont => 1 + dice.below(3),
            _ => 1,
        };
        let values: Vec<String> = (0..count)
            .map(|_| match dice.below(8) {
                0 => long_text(),
                1 => "NOT_INSTANTIATED".to_owned(),
                _ => (*dice.pick(TEXTS)).to_owned(),
            })
            .collect();
        filter = filter.and(op, dice.text(PATHS), values);
    }
    filter
}

/// Every filter lists exactly the records it matches, as testing each record's ETSI view
/// with it does: whatever a store does to answer filters without testing every record
/// (an index) changes no result. Random records (nested metadata with arrays, numbers,
/// booleans, nulls, long strings) and random filters of every operator, listed in pages,
/// after inserts, after updates and after deletes.
pub async fn indexed_filters_match_unindexed(store: &dyn Store, seed: u64) {
    let tenant = fresh_tenant();
    let mut dice = Dice(seed);
    let mut records: std::collections::BTreeMap<String, (Record, u64)> = Default::default();
    for _ in 0..80 {
        let id = new_id();
        let record = random_instance(&mut dice, &id);
        store
            .commit(&tenant, vec![Write::Insert(record.clone())])
            .await
            .expect("insert a random instance");
        records.insert(id, (record, 1));
    }
    for round in 0..3 {
        if round > 0 {
            // Change a third, delete a tenth.
            let ids: Vec<String> = records.keys().cloned().collect();
            for id in ids {
                let Some((_, version)) = records.get(&id).cloned() else {
                    continue;
                };
                match dice.below(10) {
                    0 => {
                        store
                            .commit(
                                &tenant,
                                vec![Write::Delete {
                                    kind: RecordKind::VnfInstance,
                                    id: id.clone(),
                                    expected_version: Some(version),
                                }],
                            )
                            .await
                            .expect("delete a random instance");
                        records.remove(&id);
                    }
                    1..=3 => {
                        let record = random_instance(&mut dice, &id);
                        let versions = store
                            .commit(
                                &tenant,
                                vec![Write::Update {
                                    record: record.clone(),
                                    expected_version: version,
                                }],
                            )
                            .await
                            .expect("update a random instance");
                        records.insert(id, (record, versions[0]));
                    }
                    _ => {}
                }
            }
        }
        for _ in 0..200 {
            let filter = random_filter(&mut dice);
            let expected: Vec<&str> = records
                .iter()
                .filter(|(_, (record, _))| filter.matches(&record.etsi_view()))
                .map(|(id, _)| id.as_str())
                .collect();
            let limit = *dice.pick(&[None, Some(1), Some(4), Some(25)]);
            let mut listed: Vec<String> = Vec::new();
            let mut after = None;
            for _ in 0..=records.len() {
                let query = ListQuery {
                    filter: Some(filter.clone()),
                    limit,
                    after: after.take(),
                };
                let page = store
                    .list(&tenant, RecordKind::VnfInstance, &query)
                    .await
                    .unwrap_or_else(|e| panic!("list with {filter:?}: {e}"));
                listed.extend(page.items.into_iter().map(|r| r.value.id().to_owned()));
                match page.next_marker {
                    Some(marker) => after = Some(marker),
                    None => break,
                }
            }
            assert_eq!(listed, expected, "round {round}, filter {filter:?}");
        }
    }
}
