//! `SqlStore` on an SQLite file and (when `TACKER_TEST_POSTGRES` is set) PostgreSQL:
//! state changes per second (an op record update plus one outbox notification in one
//! commit), and one page of 100 INSTANTIATED VNF instances out of 100,000. PostgreSQL is
//! reached without TLS unless `PG_SSLMODE` names another `sslmode`.

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tacker_core::filter::Filter;
use tacker_core::model::{InstantiationState, LcmOperationStateType, LcmOperationType};
use tacker_core::store::{ListQuery, NewNotification, RecordKind, Store, Write};
use tacker_core::testkit::fixtures;
use tacker_core::{TenantId, new_id};
use tacker_store::SqlStore;

const INSTANCES: usize = 100_000;
const BATCH: usize = 2_000;

/// The stores to measure: name, store, and what to clean up.
async fn stores() -> Vec<(&'static str, SqlStore, Cleanup)> {
    let path = std::env::temp_dir().join(format!("tacker-bench-{}.db", new_id()));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let mut out = vec![(
        "sqlite-file",
        SqlStore::connect(&url).await.expect("SQLite"),
        Cleanup::File(path),
    )];
    match std::env::var("TACKER_TEST_POSTGRES") {
        Ok(server) => {
            let server = server.trim_end_matches('/').to_owned();
            let name = format!("tacker_bench_{}", new_id().replace('-', ""));
            let admin = format!("{server}/postgres");
            let db = sea_orm::Database::connect(admin.as_str())
                .await
                .expect("PostgreSQL server");
            use sea_orm::ConnectionTrait;
            db.execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create the bench database");
            // Without TLS unless PG_SSLMODE says otherwise (as the bench scripts): on
            // loopback this measures the store, not TLS.
            let sslmode = std::env::var("PG_SSLMODE").unwrap_or_else(|_| "disable".to_owned());
            out.push((
                "postgresql",
                SqlStore::connect(&format!("{server}/{name}?sslmode={sslmode}"))
                    .await
                    .expect("PostgreSQL"),
                Cleanup::Database { admin, name },
            ));
        }
        Err(_) => println!("postgresql skipped: TACKER_TEST_POSTGRES not set"),
    }
    out
}

enum Cleanup {
    File(std::path::PathBuf),
    Database { admin: String, name: String },
}

impl Cleanup {
    async fn run(self) {
        match self {
            Self::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Self::Database { admin, name } => {
                use sea_orm::ConnectionTrait;
                if let Ok(db) = sea_orm::Database::connect(admin.as_str()).await {
                    let _ = db
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            }
        }
    }
}

async fn fill_instances(store: &SqlStore, tenant: &TenantId) {
    for start in (0..INSTANCES).step_by(BATCH) {
        let writes = (start..(start + BATCH).min(INSTANCES))
            .map(|n| {
                let mut record = fixtures::instance(&new_id(), "vnfd-bench", &format!("vnf-{n}"));
                if n.is_multiple_of(2) {
                    record.instance.instantiation_state = InstantiationState::Instantiated;
                }
                Write::Insert(record.into())
            })
            .collect();
        store.commit(tenant, writes).await.expect("insert a batch");
    }
}

fn store_benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let stores = runtime.block_on(stores());
    let mut cleanups = Vec::new();
    for (name, store, cleanup) in stores {
        cleanups.push(cleanup);
        let tenant = TenantId::new(format!("bench-{}", new_id()));

        // State changes: one op update plus its notification per commit.
        let subscription = new_id();
        let op_id = new_id();
        let mut op = fixtures::op_occ(
            &op_id,
            &new_id(),
            LcmOperationType::Instantiate,
            LcmOperationStateType::Processing,
        );
        runtime.block_on(async {
            store
                .commit(
                    &tenant,
                    vec![
                        Write::Insert(
                            fixtures::lccn_subscription(&subscription, "http://127.0.0.1:9/cb")
                                .into(),
                        ),
                        Write::Insert(op.clone().into()),
                    ],
                )
                .await
                .expect("seed");
        });
        let mut version = 1;
        let mut group = c.benchmark_group(format!("store/{name}"));
        group.sample_size(30);
        group.measurement_time(Duration::from_secs(5));
        group.throughput(Throughput::Elements(1));
        group.bench_function("state change (op update + notification)", |b| {
            b.iter(|| {
                op.op.state_entered_time = chrono::Utc::now();
                let writes = vec![
                    Write::Update {
                        record: op.clone().into(),
                        expected_version: version,
                    },
                    Write::Notify(NewNotification {
                        subscription_id: subscription.clone(),
                        payload: serde_json::json!({"operationState": "PROCESSING", "v": version}),
                    }),
                ];
                let versions = runtime
                    .block_on(store.commit(&tenant, writes))
                    .expect("commit");
                version = versions[0];
            });
        });

        // One filtered page out of 100,000 instances.
        let started = std::time::Instant::now();
        runtime.block_on(fill_instances(&store, &tenant));
        // The index task would otherwise still be indexing them while the page is timed.
        runtime
            .block_on(store.index_pending())
            .expect("index the instances");
        println!(
            "{name}: inserted {INSTANCES} instances in {:?}",
            started.elapsed()
        );
        let filter = Filter::parse("(eq,instantiationState,INSTANTIATED)").expect("filter");
        group.throughput(Throughput::Elements(100));
        group.bench_function("page of 100 INSTANTIATED of 100k instances", |b| {
            b.iter(|| {
                let page = runtime
                    .block_on(store.list(
                        &tenant,
                        RecordKind::VnfInstance,
                        &ListQuery::filtered(filter.clone()).with_limit(100),
                    ))
                    .expect("list");
                assert_eq!(page.items.len(), 100);
                assert!(page.next_marker.is_some());
            });
        });
        group.finish();
    }
    runtime.block_on(async {
        for cleanup in cleanups {
            cleanup.run().await;
        }
    });
}

criterion_group!(benches, store_benches);
criterion_main!(benches);
