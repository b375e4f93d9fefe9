//! The `Vnfm` façade: one assembly point, the rules it enforces, in-process notification
//! streams, onboarding from a directory, and the outbox sender on its own.

mod support;

use std::sync::Arc;
use std::time::Duration;

use object_store::memory::InMemory;
use tacker_core::lcm::LcmConfig;
use tacker_core::mgmt::NoopMgmtDriver;
use tacker_core::model::{
    CreateVnfPkgInfoRequest, CreateVnfRequest, InstantiateVnfRequest, LcmOperationStateType,
    PkgmSubscriptionRequest,
};
use tacker_core::notify::{
    ChannelNotificationSink, NotificationSender, OutboxSignal, SenderConfig,
};
use tacker_core::package::VnfPackageManager;
use tacker_core::sim::{SIM_VIM_TYPE, SimInfraDriver, sample_vim};
use tacker_core::store::{ListQuery, MemoryStore, Store};
use tacker_core::testkit::faults::FaultyStore;
use tacker_core::vim::{Sealer, SealingKey, VimRegistration};
use tacker_core::{BuiltinMonitors, Error, TenantId, VimType, Vnfm};

const WAIT: Duration = Duration::from_secs(20);

fn builder(sim: &SimInfraDriver) -> tacker_core::VnfmBuilder {
    Vnfm::builder()
        .vim_type(sim.as_vim_type())
        .mgmt_driver(Arc::new(NoopMgmtDriver::new("mgmt_driver")))
        .default_vim("vim1", sample_vim())
        .lcm_config(LcmConfig {
            poll_interval: Duration::from_millis(20),
            lease_ttl: Duration::from_millis(300),
            ..LcmConfig::default()
        })
}

async fn onboard(vnfm: &Vnfm, tenant: &TenantId) {
    let package = vnfm
        .packages()
        .create(tenant, CreateVnfPkgInfoRequest::default())
        .await
        .expect("package");
    vnfm.packages()
        .upload_content(tenant, &package.id, support::package_zip(support::TOP))
        .await
        .expect("onboarded");
}

#[test]
fn a_persistent_store_needs_a_sealing_key_and_vim_types_must_agree() {
    // A memory store forgets everything at exit: a random key is all it needs.
    assert!(!MemoryStore::new().is_persistent());
    Vnfm::builder().build().expect("the in-memory defaults");
    // A store that outlives the process (as a database does): a random key would lose
    // every credential at the next start, so the key must be given.
    let durable_sim = SimInfraDriver::new();
    let store: Arc<dyn Store> =
        Arc::new(FaultyStore::new(Arc::new(MemoryStore::new())).claiming_persistence());
    assert!(store.is_persistent());
    let error = Vnfm::builder()
        .store(store.clone())
        .vim_type(durable_sim.as_vim_type())
        .build()
        .expect_err("no key");
    assert!(
        matches!(&error, Error::InvalidRequest(m) if m.contains("sealing key")),
        "{error}"
    );
    Vnfm::builder()
        .store(store)
        .sealing_key(SealingKey::from_bytes([1; 32]))
        .vim_type(durable_sim.as_vim_type())
        .build()
        .expect("with a key");

    let other = SimInfraDriver::builder().vim_type("OTHER").build();
    let mismatch = VimType::new(Arc::new(durable_sim.clone()), Arc::new(other.vim_driver()))
        .expect_err("two vimTypes");
    assert!(mismatch.to_string().contains("OTHER"), "{mismatch}");
    let twice = Vnfm::builder()
        .vim_type(durable_sim.as_vim_type())
        .vim_type(SimInfraDriver::new().as_vim_type())
        .build()
        .expect_err("one vimType twice");
    assert!(twice.to_string().contains(SIM_VIM_TYPE), "{twice}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operation_of_a_vnfm_never_started_says_so() {
    let sim = SimInfraDriver::new();
    let vnfm = builder(&sim).build().expect("vnfm");
    let tenant = TenantId::default();
    onboard(&vnfm, &tenant).await;
    let lcm = vnfm.lcm();
    let instance = lcm
        .create_vnf(
            &tenant,
            CreateVnfRequest {
                vnfd_id: support::VNFD_ID.into(),
                ..CreateVnfRequest::default()
            },
        )
        .await
        .expect("created");
    let instantiate = || InstantiateVnfRequest {
        flavour_id: "simple".into(),
        ..InstantiateVnfRequest::default()
    };
    let error = lcm
        .instantiate(&tenant, &instance.id, instantiate())
        .await
        .expect_err("nothing would run it");
    assert!(
        matches!(&error, Error::Conflict(m) if m.contains("not started") && m.contains("Vnfm::start")),
        "{error}"
    );
    // Once started, the same request runs.
    vnfm.start().await.expect("start");
    let op = lcm
        .instantiate(&tenant, &instance.id, instantiate())
        .await
        .expect("accepted");
    let done = lcm
        .wait_for(&tenant, &op.id, &[], WAIT)
        .await
        .expect("ends");
    assert_eq!(done.operation_state, LcmOperationStateType::Completed);
    // An API-only front end accepts requests for the executors of other processes.
    let front = builder(&sim).remote_executor().build().expect("vnfm");
    onboard(&front, &tenant).await;
    let other = front
        .lcm()
        .create_vnf(
            &tenant,
            CreateVnfRequest {
                vnfd_id: support::VNFD_ID.into(),
                ..CreateVnfRequest::default()
            },
        )
        .await
        .expect("created");
    front
        .lcm()
        .instantiate(&tenant, &other.id, instantiate())
        .await
        .expect("accepted for another process");
    vnfm.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_streams_get_lcm_and_package_notifications_without_a_callback() {
    let sim = SimInfraDriver::new();
    let vnfm = builder(&sim).build().expect("vnfm");
    vnfm.start().await.expect("start");
    let tenant = TenantId::default();
    let mut packages = vnfm
        .package_notifications(&tenant, None)
        .await
        .expect("package stream");
    let mut lcm_events = vnfm
        .lcm_notifications(&tenant, None)
        .await
        .expect("lcm stream");
    onboard(&vnfm, &tenant).await;
    let first = tokio::time::timeout(WAIT, packages.next())
        .await
        .expect("in time")
        .expect("a package notification");
    assert_eq!(
        first["notificationType"],
        "VnfPackageOnboardingNotification"
    );

    let instance = vnfm
        .lcm()
        .create_vnf(
            &tenant,
            CreateVnfRequest {
                vnfd_id: support::VNFD_ID.into(),
                ..CreateVnfRequest::default()
            },
        )
        .await
        .expect("created");
    let created = tokio::time::timeout(WAIT, lcm_events.next())
        .await
        .expect("in time")
        .expect("an LCM notification");
    assert_eq!(
        created["notificationType"],
        "VnfIdentifierCreationNotification"
    );
    assert_eq!(created["vnfInstanceId"], serde_json::json!(instance.id));

    // The stream's subscription is a real one, with a callback URI of this process;
    // dropping the stream removes it.
    let listed = vnfm
        .lcm()
        .subscriptions()
        .list(&tenant, &ListQuery::all())
        .await
        .expect("subscriptions");
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].callback_uri, lcm_events.callback_uri());
    drop(lcm_events);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left = vnfm
            .lcm()
            .subscriptions()
            .list(&tenant, &ListQuery::all())
            .await
            .expect("subscriptions");
        if left.items.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the subscription stays"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    vnfm.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn package_notifications_need_no_lcm_engine() {
    // A package manager and the outbox sender, nothing else: package management alone.
    let store = Arc::new(MemoryStore::new());
    let sealer = Sealer::ephemeral().expect("key");
    let signal = OutboxSignal::new();
    let (sink, mut received) = ChannelNotificationSink::new();
    let sink = Arc::new(sink);
    let packages = VnfPackageManager::builder(store.clone(), Arc::new(InMemory::new()))
        .sealer(sealer.clone())
        .notification_sink(sink.clone())
        .outbox_signal(signal.clone())
        .build()
        .expect("packages");
    let sender =
        NotificationSender::new(store, sink, sealer, SenderConfig::default(), signal).start();
    let tenant = TenantId::default();
    packages
        .subscriptions()
        .subscribe(
            &tenant,
            PkgmSubscriptionRequest {
                filter: None,
                callback_uri: "http://127.0.0.1:9/packages".into(),
                authentication: None,
            },
        )
        .await
        .expect("subscribed");
    let package = packages
        .create(&tenant, CreateVnfPkgInfoRequest::default())
        .await
        .expect("package");
    packages
        .upload_content(&tenant, &package.id, support::package_zip(support::TOP))
        .await
        .expect("onboarded");
    let (target, notification) = tokio::time::timeout(WAIT, received.recv())
        .await
        .expect("in time")
        .expect("delivered");
    assert_eq!(target.callback_uri, "http://127.0.0.1:9/packages");
    assert_eq!(
        notification["notificationType"],
        "VnfPackageOnboardingNotification"
    );
    assert_eq!(notification["vnfPkgId"], serde_json::json!(package.id));
    sender.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_directory_onboards_and_a_bad_one_is_refused() {
    let vnfm = builder(&SimInfraDriver::new()).build().expect("vnfm");
    let tenant = TenantId::default();
    let dir = std::env::temp_dir().join(format!("tacker-pkgdir-{}", tacker_core::new_id()));
    let zip = support::package_zip(support::TOP);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip.to_vec())).expect("zip");
    archive.extract(&dir).expect("unpacked");
    let package = vnfm
        .packages()
        .onboard_directory(&tenant, &dir)
        .await
        .expect("onboarded from a directory");
    assert_eq!(package.vnfd_id.as_deref(), Some(support::VNFD_ID));

    // A symbolic link is no part of a package.
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("/etc/passwd", dir.join("Scripts/passwd")).expect("link");
        let error = vnfm
            .packages()
            .onboard_directory(&tenant, &dir)
            .await
            .expect_err("a link");
        assert!(error.to_string().contains("symbolic link"), "{error}");
        std::fs::remove_file(dir.join("Scripts/passwd")).expect("unlink");
    }
    // More bytes than a package may have is 413 before anything is zipped.
    let small = Vnfm::builder()
        .package_config(tacker_core::package::PackageManagerConfig {
            max_package_size: 100,
            ..Default::default()
        })
        .build()
        .expect("vnfm");
    let error = small
        .packages()
        .onboard_directory(&tenant, &dir)
        .await
        .expect_err("too large");
    assert_eq!(error.status(), 413, "{error}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packages_from_another_source_a_default_vim_registered_at_start_and_builtin_monitors() {
    let tenant = TenantId::default();
    // The packages live elsewhere (here: another VNFM's package manager, as an NFVO's
    // would); this VNFM's own package manager stays empty.
    let holder = Vnfm::builder().build().expect("holder");
    onboard(&holder, &tenant).await;
    let sim = SimInfraDriver::new();
    let vnfm = Vnfm::builder()
        .vim_type(sim.as_vim_type())
        .mgmt_driver(Arc::new(NoopMgmtDriver::new("mgmt_driver")))
        .package_source(Arc::new(holder.packages().clone()))
        .register_default_vim(VimRegistration::new("sim", SIM_VIM_TYPE).as_default())
        .builtin_monitors(BuiltinMonitors::default().with_max_concurrent_probes(4))
        .lcm_config(LcmConfig {
            poll_interval: Duration::from_millis(20),
            ..LcmConfig::default()
        })
        .build()
        .expect("vnfm");
    assert!(
        vnfm.alertmanager().is_some(),
        "the built-in monitors include Alertmanager's"
    );
    assert!(
        vnfm.vims()
            .default_vim(&tenant)
            .await
            .expect("query")
            .is_none()
    );
    vnfm.start().await.expect("start");
    let (id, _) = vnfm
        .vims()
        .default_vim(&tenant)
        .await
        .expect("query")
        .expect("registered at start");
    // Starting again, or another process on the same store, registers nothing more.
    vnfm.shutdown().await;
    vnfm.start().await.expect("start again");
    let vims = vnfm
        .vims()
        .list(&tenant, &ListQuery::default())
        .await
        .expect("list");
    assert_eq!(vims.items.len(), 1, "{vims:?}");
    assert_eq!(vims.items[0].id, id);

    let own = vnfm
        .packages()
        .list(&tenant, &ListQuery::default())
        .await
        .expect("list");
    assert!(
        own.items.is_empty(),
        "the package came from the other source"
    );
    let instance = vnfm
        .lcm()
        .create_vnf(
            &tenant,
            CreateVnfRequest {
                vnfd_id: support::VNFD_ID.into(),
                ..CreateVnfRequest::default()
            },
        )
        .await
        .expect("created from the other source's package");
    let op = vnfm
        .lcm()
        .instantiate(
            &tenant,
            &instance.id,
            InstantiateVnfRequest {
                flavour_id: "simple".into(),
                ..InstantiateVnfRequest::default()
            },
        )
        .await
        .expect("accepted");
    let done = vnfm
        .lcm()
        .wait_for(&tenant, &op.id, &[], WAIT)
        .await
        .expect("ends");
    assert_eq!(
        done.operation_state,
        LcmOperationStateType::Completed,
        "{done:?}"
    );
    let instance = vnfm
        .lcm()
        .instance(&tenant, &instance.id)
        .await
        .expect("read");
    assert!(
        instance
            .vim_connection_info
            .values()
            .any(|v| v.vim_id.as_deref() == Some(id.as_str())),
        "instantiated on the VIM registered at start: {:?}",
        instance.vim_connection_info
    );
    vnfm.shutdown().await;
}
