//! Test support (feature `testkit`): a fresh PostgreSQL database per test, on the
//! server `TACKER_TEST_POSTGRES` names (`postgres://postgres@127.0.0.1:5432`).

/// A fresh PostgreSQL database for one test, dropped by [`TestDatabase::drop_database`].
#[derive(Debug)]
pub struct TestDatabase {
    admin: String,
    name: String,
    /// Its URL.
    pub url: String,
}

impl TestDatabase {
    /// `None` when `TACKER_TEST_POSTGRES` is unset (a failure under `CI=true`).
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
            .expect("connect to the PostgreSQL server");
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

    /// Drops the database (closing what still uses it).
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
