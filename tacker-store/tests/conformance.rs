//! The store conformance suite of `tacker_core::testkit` on SQLite in memory, SQLite in
//! a file, and PostgreSQL.
//!
//! PostgreSQL is selected by `TACKER_TEST_POSTGRES` (a server URL such as
//! `postgres://postgres@127.0.0.1:5432`); each run creates its own database and drops it.
//! Without the variable the PostgreSQL run says "skipped", except under `CI=true`.

mod common;
#[path = "../../tacker-core/tests/support/mod.rs"]
mod support;

use tacker_core::testkit::store as suite;
use tacker_store::testkit::TestDatabase;
use tacker_store::{SqlStore, SqlStoreOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_in_memory_passes_the_conformance_suite() {
    // The index written in each commit here; behind the commits in the other runs.
    let store = SqlStore::connect_with(
        "sqlite::memory:",
        SqlStoreOptions::default().with_index_lag(std::time::Duration::ZERO),
    )
    .await
    .expect("connect");
    suite::run_all(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_in_a_file_passes_the_conformance_suite_and_migrates_twice() {
    let (url, path) = common::sqlite_file("store");
    let store = SqlStore::connect(&url).await.expect("connect");
    suite::run_all(&store).await;
    store.migrate().await.expect("migrations apply twice");
    drop(store);
    let reopened = SqlStore::connect(&url)
        .await
        .expect("reconnect to the same file");
    suite::crud_of_every_kind(&reopened).await;
    drop(reopened);
    common::remove_sqlite(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_passes_the_conformance_suite() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let store = SqlStore::connect(&database.url).await.expect("connect");
    suite::run_all(&store).await;
    store.migrate().await.expect("migrations apply twice");
    drop(store);
    // Filtered lists when each commit writes the index.
    let synchronous = SqlStore::connect_with(
        &database.url,
        SqlStoreOptions::default().with_index_lag(std::time::Duration::ZERO),
    )
    .await
    .expect("connect");
    suite::indexed_filters_match_unindexed(&synchronous, 0x1dea).await;
    drop(synchronous);
    database.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_over_tls_when_the_url_asks_for_it() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let plain = SqlStore::connect(&format!("{}?sslmode=disable", database.url))
        .await
        .expect("connect without TLS");
    assert!(!plain.uses_tls().await.expect("ask the server"));
    drop(plain);

    let encrypted = SqlStore::connect(&format!("{}?sslmode=require", database.url))
        .await
        .expect("connect with TLS");
    assert!(encrypted.uses_tls().await.expect("ask the server"));
    suite::crud_of_every_kind(&encrypted).await;
    drop(encrypted);

    // Verification is real: the server's certificate is not signed by a CA we trust.
    let missing_ca = std::env::temp_dir().join(format!("no-ca-{}.pem", tacker_core::new_id()));
    let error = SqlStore::connect(&format!(
        "{}?sslmode=verify-full&sslrootcert={}",
        database.url,
        missing_ca.display()
    ))
    .await
    .expect_err("an unverifiable server is refused");
    assert!(
        error.to_string().contains("cannot connect to postgres://"),
        "{error}"
    );
    database.drop_database().await;
}

/// Rows written before the store kept list summaries (their `summary` is NULL), or
/// updated since by a VNFM that does not keep them, are summarised from their record
/// when listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_without_a_kept_summary_are_summarised_when_listed() {
    use sea_orm::ConnectionTrait;
    use tacker_core::store::{ListQuery, RecordKind, Store, StoreExt};
    let (url, path) = common::sqlite_file("store");
    let store = SqlStore::connect(&url).await.expect("connect");
    let tenant = tacker_core::TenantId::new("summaries".to_owned());
    for n in 0..5 {
        let record = tacker_core::testkit::fixtures::instance(
            &tacker_core::new_id(),
            "vnfd-old-rows",
            &format!("vnf-{n}"),
        );
        store.insert(&tenant, record).await.expect("insert");
    }
    let db = sea_orm::Database::connect(url.as_str())
        .await
        .expect("a second connection");
    let cleared = db
        .execute_unprepared("UPDATE records SET summary = NULL WHERE id IN (SELECT id FROM records ORDER BY id LIMIT 2)")
        .await
        .expect("clear summaries");
    assert_eq!(cleared.rows_affected(), 2);
    // As a VNFM that does not keep summaries updates a row: a new body and version, the
    // summary left as it was.
    let renamed = db
        .execute_unprepared(
            "UPDATE records SET version = version + 1, \
             body = replace(body, '\"vnf-4\"', '\"renamed-by-an-older-vnfm\"') \
             WHERE body LIKE '%\"vnf-4\"%'",
        )
        .await
        .expect("update as an older VNFM");
    assert_eq!(renamed.rows_affected(), 1);
    drop(db);
    // Unbounded (row by row) and one page (joined by the database, then row by row
    // because a summary is missing).
    for query in [ListQuery::all(), ListQuery::all().with_limit(10)] {
        let records = store
            .list(&tenant, RecordKind::VnfInstance, &query)
            .await
            .expect("list");
        let summaries = store
            .list_summaries(&tenant, RecordKind::VnfInstance, &query)
            .await
            .expect("list summaries");
        let expected: Vec<String> = records.items.iter().map(|r| r.value.summary()).collect();
        assert_eq!(summaries.items.len(), 5);
        assert_eq!(summaries.items, expected);
        assert!(
            summaries
                .items
                .iter()
                .any(|s| s.contains("renamed-by-an-older-vnfm")),
            "a stale summary was served"
        );
        assert_eq!(summaries.next_marker, None);
    }
    drop(store);
    common::remove_sqlite(&path);
}

/// Rows the attribute index does not cover (written before it, or changed by a VNFM that
/// does not keep it) are still found by filters, and `migrate` indexes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_outside_the_attribute_index_are_found_and_then_indexed() {
    use sea_orm::ConnectionTrait;
    use tacker_core::filter::Filter;
    use tacker_core::store::{ListQuery, RecordKind, Store, StoreExt};
    let (url, path) = common::sqlite_file("store");
    // Each commit writes the index (no index task), so that only this test's changes
    // leave rows behind it.
    let store = SqlStore::connect_with(
        &url,
        SqlStoreOptions::default().with_index_lag(std::time::Duration::ZERO),
    )
    .await
    .expect("connect");
    let tenant = tacker_core::TenantId::new("attrs".to_owned());
    for n in 0..5 {
        let mut record = tacker_core::testkit::fixtures::instance(
            &tacker_core::new_id(),
            "vnfd-old-rows",
            &format!("vnf-{n}"),
        );
        record
            .instance
            .metadata
            .insert("site".into(), serde_json::json!(format!("site-{n}")));
        store.insert(&tenant, record).await.expect("insert");
    }
    let db = sea_orm::Database::connect(url.as_str())
        .await
        .expect("a second connection");
    let count = |sql: &'static str| {
        let db = &db;
        async move {
            let row = db
                .query_one_raw(sea_orm::Statement::from_string(
                    sea_orm::DbBackend::Sqlite,
                    sql,
                ))
                .await
                .expect("count")
                .expect("a row");
            row.try_get_by_index::<i64>(0).expect("a count")
        }
    };
    assert!(count("SELECT count(*) FROM record_attrs WHERE path = 'metadata/site'").await == 5);
    // As a VNFM that does not keep the index changes a row: a new body and version, its
    // index rows left saying what it was.
    let moved = db
        .execute_unprepared(
            "UPDATE records SET version = version + 1, \
             body = replace(body, '\"site-4\"', '\"site-moved\"') WHERE body LIKE '%\"site-4\"%'",
        )
        .await
        .expect("update as an older VNFM");
    assert_eq!(moved.rows_affected(), 1);
    // As before the index: three rows with no index rows and no version.
    db.execute_unprepared(
        "DELETE FROM record_attrs WHERE id IN (SELECT id FROM records ORDER BY id LIMIT 3)",
    )
    .await
    .expect("drop the index rows");
    db.execute_unprepared(
        "UPDATE records SET attrs_version = NULL WHERE id IN (SELECT id FROM records ORDER BY id LIMIT 3)",
    )
    .await
    .expect("clear versions");
    let names = |filter: &str| {
        let store = &store;
        let tenant = &tenant;
        let query = ListQuery::filtered(Filter::parse(filter).expect("filter"));
        async move {
            store
                .list(tenant, RecordKind::VnfInstance, &query)
                .await
                .expect("list")
                .items
                .into_iter()
                .filter_map(|r| match r.value {
                    tacker_core::store::Record::VnfInstance(i) => i.instance.vnf_instance_name,
                    _ => None,
                })
                .collect::<Vec<_>>()
        }
    };
    for _ in 0..2 {
        assert_eq!(names("(eq,metadata/site,site-1)").await, ["vnf-1"]);
        assert_eq!(names("(eq,metadata/site,site-moved)").await, ["vnf-4"]);
        assert!(names("(eq,metadata/site,site-4)").await.is_empty());
        assert_eq!(names("(cont,metadata/site,site-)").await.len(), 5);
        // Indexing them changes no answer; every row is current after it.
        store.migrate().await.expect("migrate indexes the rows");
        assert_eq!(
            count("SELECT count(*) FROM records WHERE attrs_version IS NULL OR attrs_version <> version").await,
            0
        );
        assert_eq!(
            count("SELECT count(*) FROM record_attrs WHERE path = 'metadata/site'").await,
            5
        );
    }
    drop(db);
    drop(store);
    common::remove_sqlite(&path);
}

/// The index task: commits leave the index behind, filtered lists find every record
/// meanwhile, and the task catches up by itself; a record too large to index is marked
/// and not counted as behind.
async fn the_index_task_catches_up(store: &SqlStore) {
    use tacker_core::filter::Filter;
    use tacker_core::store::{ListQuery, RecordKind, Store, StoreExt};
    let tenant = tacker_core::TenantId::new(format!("lag-{}", tacker_core::new_id()));
    let mut ids = Vec::new();
    for n in 0..30 {
        let id = tacker_core::new_id();
        let mut record =
            tacker_core::testkit::fixtures::instance(&id, "vnfd-lag", &format!("vnf-{n}"));
        record
            .instance
            .metadata
            .insert("rack".into(), serde_json::json!(format!("rack-{}", n % 3)));
        if n == 0 {
            // Too many leaves to index.
            let many: Vec<usize> = (0..5000).collect();
            record
                .instance
                .metadata
                .insert("many".into(), serde_json::json!(many));
        }
        store.insert(&tenant, record).await.expect("insert");
        ids.push(id);
    }
    let rack = |n: usize| {
        let query = ListQuery::filtered(
            Filter::parse(&format!("(eq,metadata/rack,rack-{n})")).expect("filter"),
        );
        let tenant = &tenant;
        async move {
            store
                .list(tenant, RecordKind::VnfInstance, &query)
                .await
                .expect("list")
                .items
                .len()
        }
    };
    assert_eq!(rack(1).await, 10, "found while the index is behind");
    let mut behind = u64::MAX;
    for _ in 0..200 {
        behind = store.unindexed_records().await.expect("count");
        if behind == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(behind, 0, "the index task caught up within 10 s");
    assert_eq!(rack(1).await, 10, "found through the index");
    assert_eq!(
        rack(0).await,
        10,
        "the record too large to index is still found"
    );
    assert_eq!(
        store.index_pending().await.expect("a pass"),
        0,
        "nothing left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_index_task_catches_up_behind_the_commits() {
    let (url, path) = common::sqlite_file("store");
    let store = SqlStore::connect_with(
        &url,
        SqlStoreOptions::default().with_index_lag(std::time::Duration::from_millis(50)),
    )
    .await
    .expect("connect");
    the_index_task_catches_up(&store).await;
    drop(store);
    common::remove_sqlite(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_index_task_catches_up_behind_the_commits() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let store = SqlStore::connect_with(
        &database.url,
        SqlStoreOptions::default().with_index_lag(std::time::Duration::from_millis(50)),
    )
    .await
    .expect("connect");
    the_index_task_catches_up(&store).await;
    drop(store);
    database.drop_database().await;
}
