//! `VnfPackageManager`: onboarding, reads, state changes, subscriptions.

use bytes::Bytes;
use std::io::Cursor;
use std::sync::Arc;

use futures::StreamExt;
use object_store::ObjectStore;
use object_store::memory::InMemory;
use tacker_core::model::{
    CreateVnfPkgInfoRequest, PackageOnboardingStateType as Onboarding,
    PackageOperationalStateType as Operational, PackageUsageStateType as Usage,
    PkgmNotificationType, PkgmNotificationsFilter, PkgmSubscriptionRequest,
    UploadVnfPackageFromUriRequest, VnfPkgInfoModifications,
};
use tacker_core::package::{
    PackageFetcher, PackageManagerConfig, PackageSource, VnfPackageManager,
};
use tacker_core::store::{MemoryStore, Store};
use tacker_core::{Error, TenantId};

mod support;
use support::{SCRIPT, TOP, package_zip, sha256};

struct Fixture {
    store: Arc<MemoryStore>,
    objects: Arc<InMemory>,
    manager: VnfPackageManager,
    tenant: TenantId,
}

fn fixture() -> Fixture {
    let store = Arc::new(MemoryStore::new());
    let objects = Arc::new(InMemory::new());
    let manager = VnfPackageManager::builder(store.clone(), objects.clone())
        .build()
        .expect("package manager");
    Fixture {
        store,
        objects,
        manager,
        tenant: TenantId::default(),
    }
}

#[tokio::test]
async fn a_package_is_created_uploaded_and_onboarded() {
    let f = fixture();
    let created = f
        .manager
        .create(&f.tenant, CreateVnfPkgInfoRequest::default())
        .await
        .expect("create");
    assert_eq!(created.onboarding_state, Onboarding::Created);
    assert_eq!(created.operational_state, Operational::Disabled);
    assert!(created.links.self_.href.ends_with(&created.id));

    let zip = package_zip(TOP);
    let info = f
        .manager
        .upload_content(&f.tenant, &created.id, zip.clone())
        .await
        .expect("onboard");
    assert_eq!(info.onboarding_state, Onboarding::Onboarded);
    assert_eq!(info.operational_state, Operational::Enabled);
    assert_eq!(info.usage_state, Usage::NotInUse);
    assert_eq!(
        info.vnfd_id.as_deref(),
        Some("0b6b8a2e-0000-4000-8000-000000000001")
    );
    assert_eq!(info.vnf_provider.as_deref(), Some("Example"));
    assert_eq!(
        info.compatible_specification_versions,
        vec!["2.6.1".to_string(), "3.3.1".to_string()]
    );
    assert_eq!(
        info.checksum.as_ref().map(|c| c.hash.clone()),
        Some(sha256(&zip))
    );
    assert_eq!(info.software_images.len(), 1, "VDU1's image");
    assert_eq!(info.software_images[0].id, "VDU1");
    assert_eq!(
        info.additional_artifacts[0].artifact_path.as_deref(),
        Some("Scripts/mgmt.py")
    );
    assert_eq!(
        f.manager.get(&f.tenant, &created.id).await.expect("get"),
        info
    );

    let vnfd = f.manager.vnfd(&f.tenant, &created.id).await.expect("vnfd");
    assert!(vnfd.flavour("simple").is_some());
    assert!(matches!(
        f.manager.vnfd_yaml(&f.tenant, &created.id).await,
        Err(Error::NotAcceptable(_))
    ));
    let vnfd_zip = f
        .manager
        .vnfd_zip(&f.tenant, &created.id)
        .await
        .expect("vnfd zip");
    let archive = zip::ZipArchive::new(Cursor::new(vnfd_zip)).expect("zip");
    let names: Vec<String> = archive
        .file_names()
        .filter_map(Result::ok)
        .map(|n| n.into_owned())
        .collect();
    assert!(
        names.iter().any(|n| n == "Definitions/df_simple.yaml")
            && names.iter().any(|n| n == "TOSCA-Metadata/TOSCA.meta"),
        "{names:?}"
    );
    let manifest = f
        .manager
        .manifest(&f.tenant, &created.id)
        .await
        .expect("manifest");
    assert!(String::from_utf8_lossy(&manifest).contains("Scripts/mgmt.py"));
    let artifact = f
        .manager
        .artifact(&f.tenant, &created.id, "Scripts/mgmt.py", None)
        .await
        .expect("artifact");
    assert_eq!(artifact, SCRIPT.as_bytes());
    let part = f
        .manager
        .artifact(&f.tenant, &created.id, "Scripts/mgmt.py", Some(0..5))
        .await
        .expect("range");
    assert_eq!(part, b"print");
    assert!(matches!(
        f.manager
            .artifact(&f.tenant, &created.id, "Definitions/top.yaml", None)
            .await,
        Err(Error::NotFound { .. })
    ));
    let (whole, size) = f
        .manager
        .package_content(&f.tenant, &created.id, None)
        .await
        .expect("content");
    assert_eq!((whole.clone(), size), (zip.clone(), zip.len() as u64));
    let (head, _) = f
        .manager
        .package_content(&f.tenant, &created.id, Some(0..4))
        .await
        .expect("range");
    assert_eq!(&head[..], &zip[..4]);
    assert!(
        f.manager
            .package_content(&f.tenant, &created.id, Some(10_000..10_004))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_bad_package_goes_back_to_created_with_the_reason_and_nothing_stored() {
    let f = fixture();
    let created = f
        .manager
        .create(&f.tenant, CreateVnfPkgInfoRequest::default())
        .await
        .expect("create");
    let bad = package_zip(&TOP.replace("provider: Example", "provider: Nobody"));
    let error = f
        .manager
        .upload_content(&f.tenant, &created.id, bad)
        .await
        .expect_err("invalid");
    assert!(error.to_string().contains("valid_values"), "{error}");
    let info = f.manager.get(&f.tenant, &created.id).await.expect("get");
    assert_eq!(info.onboarding_state, Onboarding::Created);
    let details = info.onboarding_failure_details.expect("failure details");
    assert_eq!(details.status, 422);
    assert!(
        details.detail.contains("Definitions/top.yaml"),
        "{}",
        details.detail
    );
    let stored = f.objects.list(None).collect::<Vec<_>>().await;
    assert!(stored.is_empty(), "no content kept for a refused package");

    let info = f
        .manager
        .upload_content(&f.tenant, &created.id, package_zip(TOP))
        .await
        .expect("retry onboards");
    assert_eq!(info.onboarding_state, Onboarding::Onboarded);
    assert!(info.onboarding_failure_details.is_none());
    assert!(matches!(
        f.manager
            .upload_content(&f.tenant, &created.id, package_zip(TOP))
            .await,
        Err(Error::Conflict(_))
    ));
    let not_a_zip = f
        .manager
        .create(&f.tenant, CreateVnfPkgInfoRequest::default())
        .await
        .expect("create");
    let error = f
        .manager
        .upload_content(&f.tenant, &not_a_zip.id, Bytes::from_static(b"hello"))
        .await
        .expect_err("not zip");
    assert!(error.to_string().contains("not a readable zip"), "{error}");
}

#[tokio::test]
async fn one_vnfd_id_is_onboarded_once_per_tenant() {
    let f = fixture();
    let first = f
        .manager
        .create(&f.tenant, CreateVnfPkgInfoRequest::default())
        .await
        .expect("create");
    f.manager
        .upload_content(&f.tenant, &first.id, package_zip(TOP))
        .await
        .expect("first");
    let second = f
        .manager
        .create(&f.tenant, CreateVnfPkgInfoRequest::default())
        .await
        .expect("create");
    let error = f
        .manager
        .upload_content(&f.tenant, &second.id, package_zip(TOP))
        .await
        .expect_err("duplicate vnfdId");
    assert!(matches!(error, Error::Conflict(_)), "{error}");
    let second = f.manager.get(&f.tenant, &second.id).await.expect("get");
    assert_eq!(second.onboarding_state, Onboarding::Created);
    assert!(second.onboarding_failure_details.is_some());
    let other_tenant = TenantId::new("other");
    let theirs = f
        .manager
        .create(&other_tenant, CreateVnfPkgInfoRequest::default())
        .await
        .expect("create");
    f.manager
        .upload_content(&other_tenant, &theirs.id, package_zip(TOP))
        .await
        .expect("another tenant may");
}

#[tokio::test]
async fn enable_disable_delete_and_usage_follow_sol005() {
    let f = fixture();
    let pkg = f
        .manager
        .create(&f.tenant, CreateVnfPkgInfoRequest::default())
        .await
        .expect("create");
    let info = f
        .manager
        .upload_content(&f.tenant, &pkg.id, package_zip(TOP))
        .await
        .expect("onboard");
    let vnfd_id = info.vnfd_id.clone().expect("vnfd id");
    assert!(
        matches!(
            f.manager.delete(&f.tenant, &pkg.id).await,
            Err(Error::Conflict(_))
        ),
        "ENABLED"
    );

    f.manager
        .set_in_use(&f.tenant, &vnfd_id, true)
        .await
        .expect("in use");
    let source = f
        .manager
        .package_for_vnfd(&f.tenant, &vnfd_id, true)
        .await
        .expect("package for new instance");
    assert_eq!(source.vnfd.descriptor_id, vnfd_id);
    assert_eq!(
        source.files.read("Scripts/mgmt.py").await.expect("file"),
        SCRIPT.as_bytes()
    );
    // Streamed from the store (as software images are uploaded), the same bytes.
    let mut streamed = Vec::new();
    let mut chunks = source
        .files
        .stream("Scripts/mgmt.py")
        .await
        .expect("stream");
    while let Some(chunk) = chunks.next().await {
        streamed.extend_from_slice(&chunk.expect("a chunk"));
    }
    assert_eq!(streamed, SCRIPT.as_bytes());
    assert!(source.files.stream("Scripts/none.py").await.is_err());

    let disable = VnfPkgInfoModifications {
        operational_state: Some(Operational::Disabled),
        user_defined_data: Some(
            serde_json::json!({"owner": "ops"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        ),
    };
    f.manager
        .modify(&f.tenant, &pkg.id, disable.clone())
        .await
        .expect("disable");
    assert!(
        matches!(
            f.manager.modify(&f.tenant, &pkg.id, disable).await,
            Err(Error::Conflict(_))
        ),
        "already disabled"
    );
    let info = f.manager.get(&f.tenant, &pkg.id).await.expect("get");
    assert_eq!(info.user_defined_data["owner"], "ops");
    assert!(matches!(
        f.manager.package_for_vnfd(&f.tenant, &vnfd_id, true).await,
        Err(Error::Conflict(_))
    ));
    assert!(
        f.manager
            .package_for_vnfd(&f.tenant, &vnfd_id, false)
            .await
            .is_ok(),
        "existing instances still read it"
    );
    assert!(
        matches!(
            f.manager.delete(&f.tenant, &pkg.id).await,
            Err(Error::Conflict(_))
        ),
        "IN_USE"
    );

    f.manager
        .set_in_use(&f.tenant, &vnfd_id, false)
        .await
        .expect("not in use");
    f.manager.delete(&f.tenant, &pkg.id).await.expect("delete");
    assert!(matches!(
        f.manager.get(&f.tenant, &pkg.id).await,
        Err(Error::NotFound { .. })
    ));
    let left: Vec<_> = f.objects.list(None).collect::<Vec<_>>().await;
    assert!(left.is_empty(), "content removed with the package");
}

#[tokio::test]
async fn subscribers_get_onboarding_and_change_notifications() {
    let f = fixture();
    let all = f
        .manager
        .subscriptions()
        .subscribe(
            &f.tenant,
            PkgmSubscriptionRequest {
                filter: None,
                callback_uri: "http://127.0.0.1:9/all".into(),
                authentication: None,
            },
        )
        .await
        .expect("subscribe");
    let changes_only = f
        .manager
        .subscriptions()
        .subscribe(
            &f.tenant,
            PkgmSubscriptionRequest {
                filter: Some(PkgmNotificationsFilter {
                    notification_types: vec![PkgmNotificationType::VnfPackageChangeNotification],
                    ..Default::default()
                }),
                callback_uri: "http://127.0.0.1:9/changes".into(),
                authentication: None,
            },
        )
        .await
        .expect("subscribe");
    let pkg = f
        .manager
        .create(&f.tenant, CreateVnfPkgInfoRequest::default())
        .await
        .expect("create");
    f.manager
        .upload_content(&f.tenant, &pkg.id, package_zip(TOP))
        .await
        .expect("onboard");
    f.manager
        .modify(
            &f.tenant,
            &pkg.id,
            VnfPkgInfoModifications {
                operational_state: Some(Operational::Disabled),
                user_defined_data: None,
            },
        )
        .await
        .expect("disable");

    let mut delivered: Vec<(String, String, String)> = Vec::new();
    for _ in 0..4 {
        let batch = f
            .store
            .claim_notifications(
                "test",
                chrono::Utc::now(),
                std::time::Duration::from_secs(30),
                100,
            )
            .await
            .expect("claim");
        for entry in batch {
            delivered.push((
                entry.subscription_id.clone(),
                entry.payload["notificationType"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                entry.payload["changeType"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            ));
            f.store.ack_notification(&entry).await.expect("ack");
        }
    }
    assert_eq!(
        delivered
            .iter()
            .filter(|d| d.0 == all.id)
            .map(|d| d.1.as_str())
            .collect::<Vec<_>>(),
        [
            "VnfPackageOnboardingNotification",
            "VnfPackageChangeNotification"
        ]
    );
    let changes: Vec<_> = delivered
        .iter()
        .filter(|d| d.0 == changes_only.id)
        .collect();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].2, "OP_STATE_CHANGE");
    assert_eq!(
        f.manager
            .subscriptions()
            .list(&f.tenant, &Default::default())
            .await
            .expect("list")
            .items
            .len(),
        2
    );
    f.manager
        .subscriptions()
        .unsubscribe(&f.tenant, &all.id)
        .await
        .expect("unsubscribe");
    assert!(
        f.manager
            .subscriptions()
            .get(&f.tenant, &all.id)
            .await
            .is_err()
    );
}

#[derive(Debug)]
struct FixedFetcher(Bytes);

#[async_trait::async_trait]
impl PackageFetcher for FixedFetcher {
    async fn fetch(
        &self,
        uri: &str,
        basic_auth: Option<(&str, &str)>,
        limit: u64,
    ) -> tacker_core::Result<Bytes> {
        assert_eq!(uri, "https://packages.example/vnf.zip");
        assert_eq!(basic_auth, Some(("user", "secret")));
        assert!(limit > 0);
        Ok(self.0.clone())
    }
}

#[tokio::test]
async fn upload_from_uri_accepts_http_and_https_only() {
    let f = fixture();
    let manager = VnfPackageManager::builder(f.store.clone(), f.objects.clone())
        .fetcher(Arc::new(FixedFetcher(package_zip(TOP))))
        .build()
        .expect("package manager");
    let pkg = manager
        .create(&f.tenant, CreateVnfPkgInfoRequest::default())
        .await
        .expect("create");
    for bad in [
        "ftp://packages.example/vnf.zip",
        "file:///etc/passwd",
        "packages.example/vnf.zip",
    ] {
        let request = UploadVnfPackageFromUriRequest {
            address_information: bad.into(),
            auth_type: None,
            params_oauth2_client_credentials: None,
        };
        assert!(
            matches!(
                manager
                    .upload_from_uri(&f.tenant, &pkg.id, &request, None)
                    .await,
                Err(Error::InvalidRequest(_))
            ),
            "{bad}"
        );
    }
    let request = UploadVnfPackageFromUriRequest {
        address_information: "https://packages.example/vnf.zip".into(),
        auth_type: None,
        params_oauth2_client_credentials: None,
    };
    let info = manager
        .upload_from_uri(&f.tenant, &pkg.id, &request, Some(("user", "secret")))
        .await
        .expect("onboard");
    assert_eq!(info.onboarding_state, Onboarding::Onboarded);
    let _: &dyn ObjectStore = f.objects.as_ref();
}

/// The sample package plus a stored (uncompressed) binary artifact of `size`
/// pseudo-random bytes, listed in the manifest with its digest.
fn package_with_artifact(size: usize) -> (Bytes, Vec<u8>) {
    use std::io::Write as _;
    use zip::write::SimpleFileOptions;
    let mut state: u32 = 0x9e37_79b9;
    let artifact: Vec<u8> = (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[0]
        })
        .collect();
    let base = package_zip(TOP);
    let mut archive = zip::ZipArchive::new(Cursor::new(base.to_vec())).expect("zip");
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for index in 0..archive.len() {
        let mut file = archive.by_index(index).expect("entry");
        let name = file.name().expect("name").into_owned();
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut content).expect("read");
        if name == "manifest.mf" {
            let text = String::from_utf8(content).expect("utf8");
            content = format!(
                "{text}\nSource: Files/images/big.bin\nAlgorithm: SHA-256\nHash: {}\n",
                sha256(&artifact)
            )
            .into_bytes();
        }
        writer
            .start_file(name, SimpleFileOptions::default())
            .expect("start");
        writer.write_all(&content).expect("write");
    }
    writer
        .start_file(
            "Files/images/big.bin",
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored),
        )
        .expect("start");
    writer.write_all(&artifact).expect("write");
    let zip = Bytes::from(writer.finish().expect("finish").into_inner());
    (zip, artifact)
}

async fn object_count(objects: &InMemory) -> usize {
    objects.list(None).collect::<Vec<_>>().await.len()
}

#[tokio::test]
async fn a_package_above_the_maximum_size_is_refused_naming_the_limit_and_nothing_is_stored() {
    let store = Arc::new(MemoryStore::new());
    let objects = Arc::new(InMemory::new());
    let zip = package_zip(TOP);
    let limit = u64::try_from(zip.len()).expect("size") - 1;
    let manager = VnfPackageManager::builder(store.clone(), objects.clone())
        .config(PackageManagerConfig {
            max_package_size: limit,
            ..PackageManagerConfig::default()
        })
        .build()
        .expect("package manager");
    let tenant = TenantId::default();
    let pkg = manager
        .create(&tenant, CreateVnfPkgInfoRequest::default())
        .await
        .expect("create");
    let error = manager
        .upload_content(&tenant, &pkg.id, zip.clone())
        .await
        .expect_err("too large");
    assert!(matches!(error, Error::TooLarge(_)), "{error}");
    assert_eq!(error.status(), 413);
    assert!(error.to_string().contains(&limit.to_string()), "{error}");

    let dir = std::env::temp_dir().join(format!("tacker-test-{}", tacker_core::new_id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("package.zip");
    std::fs::write(&file, &zip).expect("write");
    let error = manager
        .upload_content_from_file(&tenant, &pkg.id, &file)
        .await
        .expect_err("too large");
    assert!(matches!(error, Error::TooLarge(_)), "{error}");
    std::fs::remove_dir_all(&dir).expect("cleanup");

    let info = manager.get(&tenant, &pkg.id).await.expect("get");
    assert_eq!(info.onboarding_state, Onboarding::Created);
    assert!(info.onboarding_failure_details.is_none());
    assert_eq!(object_count(&objects).await, 0);
}

#[tokio::test]
async fn a_streamed_upload_stores_the_bytes_and_checksum_and_serves_them_by_range() {
    let f = fixture();
    // Above the 8 MiB part size: stored in several parts.
    let (zip, artifact) = package_with_artifact(20 << 20);
    let dir = std::env::temp_dir().join(format!("tacker-test-{}", tacker_core::new_id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("package.zip");
    std::fs::write(&file, &zip).expect("write");
    let pkg = f
        .manager
        .create(&f.tenant, CreateVnfPkgInfoRequest::default())
        .await
        .expect("create");
    let info = f
        .manager
        .upload_content_from_file(&f.tenant, &pkg.id, &file)
        .await
        .expect("onboard");
    std::fs::remove_dir_all(&dir).expect("cleanup");
    assert_eq!(info.onboarding_state, Onboarding::Onboarded);
    assert_eq!(
        info.checksum.as_ref().map(|c| c.hash.clone()),
        Some(sha256(&zip))
    );
    assert!(
        info.additional_artifacts
            .iter()
            .any(|a| a.artifact_path.as_deref() == Some("Files/images/big.bin"))
    );

    // The stored content, whole and by a range, streamed.
    let content = f
        .manager
        .content(&f.tenant, &pkg.id)
        .await
        .expect("content");
    assert_eq!(content.size(), u64::try_from(zip.len()).expect("size"));
    let mut stream = content.stream(None).await.expect("stream");
    let mut stored = Vec::new();
    while let Some(chunk) = stream.next().await {
        stored.extend_from_slice(&chunk.expect("chunk"));
    }
    assert!(stored == zip.as_ref(), "the stored bytes differ");
    let content = f
        .manager
        .content(&f.tenant, &pkg.id)
        .await
        .expect("content");
    let mut stream = content.stream(Some(100..9_000_100)).await.expect("stream");
    let mut part = Vec::new();
    while let Some(chunk) = stream.next().await {
        part.extend_from_slice(&chunk.expect("chunk"));
    }
    assert!(part == zip[100..9_000_100], "the range differs");

    // The artifact, read from the stored package by ranges.
    let big = f
        .manager
        .artifact_content(&f.tenant, &pkg.id, "Files/images/big.bin")
        .await
        .expect("artifact");
    assert_eq!(big.size(), 20 << 20);
    let start = (3 << 20) + 5;
    let end = (17 << 20) + 11;
    let mut stream = big.stream(Some(start..end)).await.expect("stream");
    let mut part = Vec::new();
    while let Some(chunk) = stream.next().await {
        part.extend_from_slice(&chunk.expect("chunk"));
    }
    assert!(
        part == artifact
            [usize::try_from(start).expect("start")..usize::try_from(end).expect("end")],
        "the artifact range differs"
    );
    // The package files the LCM engine reads come from the stored package too.
    let vnfd = f.manager.vnfd_yaml(&f.tenant, &pkg.id).await;
    assert!(vnfd.is_err() || !vnfd.expect("yaml").is_empty());
    let manifest = f
        .manager
        .manifest(&f.tenant, &pkg.id)
        .await
        .expect("manifest");
    assert!(String::from_utf8_lossy(&manifest).contains("Files/images/big.bin"));
}

#[tokio::test]
async fn an_upload_whose_claim_lapsed_goes_back_to_created_when_read() {
    use tacker_core::store::{StoreExt, UploadClaim};
    let f = fixture();
    let pkg = f
        .manager
        .create(&f.tenant, CreateVnfPkgInfoRequest::default())
        .await
        .expect("create");
    // As a VNFM that stopped during the download leaves it: UPLOADING under a claim
    // that is no longer renewed.
    let mut record = f
        .store
        .get_typed::<tacker_core::store::VnfPackageRecord>(&f.tenant, &pkg.id)
        .await
        .expect("record");
    record.value.info.onboarding_state = Onboarding::Uploading;
    record.value.upload_claim = Some(UploadClaim {
        token: "gone".into(),
        until: chrono::Utc::now() + chrono::Duration::seconds(60),
    });
    f.store
        .update(&f.tenant, record.value.clone(), record.version)
        .await
        .expect("update");
    // A live claim stands.
    let info = f.manager.get(&f.tenant, &pkg.id).await.expect("get");
    assert_eq!(info.onboarding_state, Onboarding::Uploading);
    assert!(matches!(
        f.manager.delete(&f.tenant, &pkg.id).await,
        Err(Error::Conflict(_))
    ));

    let mut record = f
        .store
        .get_typed::<tacker_core::store::VnfPackageRecord>(&f.tenant, &pkg.id)
        .await
        .expect("record");
    record.value.info.onboarding_state = Onboarding::Processing;
    record.value.upload_claim = Some(UploadClaim {
        token: "gone".into(),
        until: chrono::Utc::now() - chrono::Duration::seconds(1),
    });
    f.store
        .update(&f.tenant, record.value, record.version)
        .await
        .expect("update");
    // A default list (from the kept summaries) repairs it first, as a full list does.
    let summaries = f
        .manager
        .summaries(
            &f.tenant,
            &tacker_core::store::ListQuery::all().with_limit(10),
        )
        .await
        .expect("summaries");
    assert_eq!(summaries.items.len(), 1);
    assert!(
        summaries.items[0].contains("\"onboardingState\":\"CREATED\""),
        "{}",
        summaries.items[0]
    );
    let listed = f
        .manager
        .list(&f.tenant, &tacker_core::store::ListQuery::all())
        .await
        .expect("list");
    assert_eq!(listed.items[0].onboarding_state, Onboarding::Created);
    let info = f.manager.get(&f.tenant, &pkg.id).await.expect("get");
    assert_eq!(info.onboarding_state, Onboarding::Created);
    let details = info.onboarding_failure_details.expect("details");
    assert!(details.detail.contains("interrupted"), "{}", details.detail);
    // And it can be uploaded again.
    let info = f
        .manager
        .upload_content(&f.tenant, &pkg.id, package_zip(TOP))
        .await
        .expect("onboard");
    assert_eq!(info.onboarding_state, Onboarding::Onboarded);
    assert!(info.onboarding_failure_details.is_none());
}

/// Serves the sample package once `release` is notified, or a package too large.
#[derive(Debug)]
struct GatedFetcher {
    release: Arc<tokio::sync::Notify>,
    content: Bytes,
}

#[async_trait::async_trait]
impl PackageFetcher for GatedFetcher {
    async fn fetch(
        &self,
        _uri: &str,
        _basic_auth: Option<(&str, &str)>,
        limit: u64,
    ) -> tacker_core::Result<Bytes> {
        self.release.notified().await;
        if u64::try_from(self.content.len()).unwrap_or(u64::MAX) > limit {
            return Err(Error::TooLarge(format!("more than {limit} bytes")));
        }
        Ok(self.content.clone())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_from_uri_returns_while_uploading_and_onboards_in_the_background() {
    let store = Arc::new(MemoryStore::new());
    let objects = Arc::new(InMemory::new());
    let release = Arc::new(tokio::sync::Notify::new());
    let zip = package_zip(TOP);
    let limit = u64::try_from(zip.len()).expect("size");
    let manager = VnfPackageManager::builder(store.clone(), objects.clone())
        .config(PackageManagerConfig {
            max_package_size: limit,
            // Renewed every 100 ms: the download below outlives several claim periods.
            upload_claim_ttl: std::time::Duration::from_millis(300),
            ..PackageManagerConfig::default()
        })
        .fetcher(Arc::new(GatedFetcher {
            release: release.clone(),
            content: zip,
        }))
        .build()
        .expect("package manager");
    let tenant = TenantId::default();
    let pkg = manager
        .create(&tenant, CreateVnfPkgInfoRequest::default())
        .await
        .expect("create");
    let request = UploadVnfPackageFromUriRequest {
        address_information: "http://packages.example/vnf.zip".into(),
        auth_type: None,
        params_oauth2_client_credentials: None,
    };
    let task = manager
        .start_upload_from_uri(&tenant, &pkg.id, &request, None)
        .await
        .expect("started");
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    let info = manager.get(&tenant, &pkg.id).await.expect("get");
    assert_eq!(info.onboarding_state, Onboarding::Uploading);
    // A second upload is refused while the first runs.
    assert!(matches!(
        manager
            .start_upload_from_uri(&tenant, &pkg.id, &request, None)
            .await,
        Err(Error::Conflict(_))
    ));
    release.notify_one();
    let info = task.await.expect("task").expect("onboarded");
    assert_eq!(info.onboarding_state, Onboarding::Onboarded);
    let info = manager.get(&tenant, &pkg.id).await.expect("get");
    assert_eq!(info.onboarding_state, Onboarding::Onboarded);

    // Too large: back to CREATED, the reason (413, the limit) recorded, nothing stored.
    let before = object_count(&objects).await;
    let big = VnfPackageManager::builder(store.clone(), objects.clone())
        .config(PackageManagerConfig {
            max_package_size: 100,
            ..PackageManagerConfig::default()
        })
        .fetcher(Arc::new(GatedFetcher {
            release: release.clone(),
            content: package_zip(TOP),
        }))
        .build()
        .expect("package manager");
    let other = big
        .create(&tenant, CreateVnfPkgInfoRequest::default())
        .await
        .expect("create");
    let task = big
        .start_upload_from_uri(&tenant, &other.id, &request, None)
        .await
        .expect("started");
    release.notify_one();
    let error = task.await.expect("task").expect_err("too large");
    assert_eq!(error.status(), 413);
    let info = big.get(&tenant, &other.id).await.expect("get");
    assert_eq!(info.onboarding_state, Onboarding::Created);
    let details = info.onboarding_failure_details.expect("details");
    assert_eq!(details.status, 413);
    assert!(details.detail.contains("100"), "{}", details.detail);
    assert_eq!(object_count(&objects).await, before);
}

/// A software image in the package has its path from the package root and the checksum
/// algorithm in the manifest's spelling; one that is not in the package has no path.
#[tokio::test]
async fn software_images_name_their_path_and_one_algorithm_spelling() {
    let f = fixture();
    let image = "not really a disk image\n";
    let flavour = support::FLAVOUR
        .replacen(
            "          container_format: bare\n",
            &format!(
                "          container_format: bare\n          checksum:\n            algorithm: sha-256\n            hash: {}\n",
                sha256(image.as_bytes())
            ),
            1,
        )
        .replacen(
            "      requirements:\n        - virtual_storage: Storage1\n",
            "      requirements:\n        - virtual_storage: Storage1\n      artifacts:\n        sw_image:\n          type: tosca.artifacts.nfv.SwImage\n          file: ../Files/images/image.img\n",
            1,
        );
    assert!(flavour.contains("sw_image:") && flavour.contains("sha-256"));
    let zip = support::package_zip_files(TOP, &flavour, &[("Files/images/image.img", image)]);
    let created = f
        .manager
        .create(&f.tenant, CreateVnfPkgInfoRequest::default())
        .await
        .expect("create");
    let info = f
        .manager
        .upload_content(&f.tenant, &created.id, zip)
        .await
        .expect("onboard");
    let images = &info.software_images;
    assert_eq!(images.len(), 1);
    assert_eq!(
        images[0].image_path.as_deref(),
        Some("Files/images/image.img")
    );
    assert_eq!(images[0].checksum.algorithm, "SHA-256");
    assert_eq!(
        info.additional_artifacts[0].checksum.algorithm,
        images[0].checksum.algorithm
    );

    // The plain package's image has no file: no imagePath at all, never "".
    let created = f
        .manager
        .create(&f.tenant, CreateVnfPkgInfoRequest::default())
        .await
        .expect("create");
    let other = support::package_zip_with(
        &TOP.replace(support::VNFD_ID, "0b6b8a2e-0000-4000-8000-0000000000ff"),
        support::FLAVOUR,
    );
    let info = f
        .manager
        .upload_content(&f.tenant, &created.id, other)
        .await
        .expect("onboard");
    let json = serde_json::to_value(&info.software_images[0]).expect("json");
    assert!(json.get("imagePath").is_none(), "{json}");
}
