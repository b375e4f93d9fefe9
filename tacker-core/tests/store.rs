//! The store conformance suite on the in-memory store.

use std::sync::Arc;

use tacker_core::model::{LcmOperationStateType, LcmOperationType};
use tacker_core::store::{MemoryStore, Store, StoreExt};
use tacker_core::testkit::{fixtures, store as suite};
use tacker_core::{Error, TenantId, new_id};

#[tokio::test]
async fn memory_store_passes_the_conformance_suite() {
    suite::run_all(&MemoryStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_spawned_tasks_racing_on_a_shared_store_have_one_winner() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let tenant = TenantId::default();
    let instance = new_id();
    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let store = store.clone();
            let tenant = tenant.clone();
            let instance = instance.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                let op = fixtures::op_occ(
                    &new_id(),
                    &instance,
                    LcmOperationType::Scale,
                    LcmOperationStateType::Starting,
                );
                barrier.wait().await;
                store.insert(&tenant, op).await
            })
        })
        .collect();
    let mut wins = 0;
    let mut conflicts = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => wins += 1,
            Err(Error::OperationInProgress { .. }) => conflicts += 1,
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    assert_eq!((wins, conflicts), (1, 49));
}
