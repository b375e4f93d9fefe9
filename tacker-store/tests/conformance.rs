//! The store conformance suite of `tacker_core::testkit` on SQLite in memory, SQLite in
//! a file, and PostgreSQL.
//!
//! PostgreSQL is selected by `TACKER_TEST_POSTGRES` (a server URL such as
//! `postgres://postgres@127.0.0.1:5432`); each run creates its own database and drops it.
//! Without the variable the PostgreSQL run says "skipped", except under `CI=true`.

use tacker_core::testkit::store as suite;
use tacker_store::SqlStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_in_memory_passes_the_conformance_suite() {
    let store = SqlStore::connect("sqlite::memory:").await.expect("connect");
    suite::run_all(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_in_a_file_passes_the_conformance_suite_and_migrates_twice() {
    let path = std::env::temp_dir().join(format!("tacker-store-{}.db", tacker_core::new_id()));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let store = SqlStore::connect(&url).await.expect("connect");
    suite::run_all(&store).await;
    store.migrate().await.expect("migrations apply twice");
    drop(store);
    let reopened = SqlStore::connect(&url)
        .await
        .expect("reconnect to the same file");
    suite::crud_of_every_kind(&reopened).await;
    drop(reopened);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// A fresh PostgreSQL database for one test, dropped afterwards.
pub struct TestDatabase {
    admin: String,
    name: String,
    /// Its URL.
    pub url: String,
}

impl TestDatabase {
    /// `None` when PostgreSQL is not selected (a failure under `CI=true`).
    pub async fn create() -> Option<Self> {
        let Ok(server) = std::env::var("TACKER_TEST_POSTGRES") else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but TACKER_TEST_POSTGRES is not set"
            );
            eprintln!("skipped: TACKER_TEST_POSTGRES not set");
            return None;
        };
        let server = server.trim_end_matches('/').to_owned();
        let admin = format!("{server}/postgres");
        let name = format!("tacker_test_{}", tacker_core::new_id().replace('-', ""));
        let db = sea_orm::Database::connect(admin.as_str())
            .await
            .expect("connect to PostgreSQL");
        use sea_orm::ConnectionTrait;
        db.execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create the test database");
        Some(Self {
            url: format!("{server}/{name}"),
            admin,
            name,
        })
    }

    /// Drops the database.
    pub async fn drop_database(self) {
        use sea_orm::ConnectionTrait;
        if let Ok(db) = sea_orm::Database::connect(self.admin.as_str()).await {
            let _ = db
                .execute_unprepared(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .await;
        }
    }
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
    database.drop_database().await;
}
