//! SOL004 package signatures: packages signed with `openssl cms` by CAs these tests
//! make, verified by `PackageTrust` directly and through onboarding.
#![cfg(feature = "signatures")]

use std::sync::Arc;

use object_store::memory::InMemory;
use tacker_core::TenantId;
use tacker_core::csar::{CsarError, PackageTrust, SignaturePolicy};
use tacker_core::model::{PackageOnboardingStateType as Onboarding, PackageSecurityOption};
use tacker_core::package::{PackageManagerConfig, VnfPackageManager};
use tacker_core::store::MemoryStore;

#[allow(dead_code)]
mod signing;
use signing::{Ca, DF, Package, Scratch, sha256_hex};

fn refusal(result: Result<tacker_core::csar::SignatureReport, CsarError>) -> (String, String) {
    match result.expect_err("refused") {
        CsarError::Signature { file, reason } => (file, reason),
        other => panic!("not a signature refusal: {other}"),
    }
}

#[test]
fn a_signed_manifest_verifies_under_every_policy_that_looks() {
    let scratch = Scratch::new();
    let ca = Ca::new(&scratch.0, "vendor-ca");
    let signer = ca.issue("vnf-signer", true, None, "signer");
    let package = Package::new(&scratch.0, "pkg");
    package.sign(&signer, false);
    let csar = package.csar();
    let tenant = TenantId::default();
    for policy in [SignaturePolicy::Require, SignaturePolicy::IfPresent] {
        let trust = PackageTrust::from_pem(&ca.pem(), policy).expect("trust");
        let report = trust.verify(&csar, &tenant).expect("verified");
        assert_eq!(report.security_option, Some(PackageSecurityOption::Option1));
        assert!(
            report
                .signer
                .as_deref()
                .is_some_and(|s| s.contains("CN=vnf-signer")),
            "{report:?}"
        );
        assert_eq!(
            report.signing_certificate.as_deref(),
            Some(signer.pem().as_str())
        );
    }
    let ignore = PackageTrust::from_pem(&ca.pem(), SignaturePolicy::Ignore).expect("trust");
    assert_eq!(
        ignore
            .verify(&csar, &tenant)
            .expect("ignored")
            .security_option,
        None
    );
}

#[test]
fn the_signing_certificate_may_come_only_from_the_package_file() {
    let scratch = Scratch::new();
    let ca = Ca::new(&scratch.0, "vendor-ca");
    let signer = ca.issue("ec-signer", false, None, "signer");
    let package = Package::new(&scratch.0, "pkg");
    package.sign(&signer, true);
    let trust = PackageTrust::from_pem(&ca.pem(), SignaturePolicy::Require).expect("trust");
    let report = trust
        .verify(&package.csar(), &TenantId::default())
        .expect("verified");
    assert_eq!(report.security_option, Some(PackageSecurityOption::Option1));

    // Without the package's certificate file nothing names the signer.
    std::fs::remove_file(package.root.join("Files/Certificates/signer.cert")).expect("rm");
    let meta = std::fs::read_to_string(package.root.join("TOSCA-Metadata/TOSCA.meta"))
        .expect("meta")
        .replace(
            "ETSI-Entry-Certificate: Files/Certificates/signer.cert\n",
            "",
        );
    package.write("TOSCA-Metadata/TOSCA.meta", meta);
    let (file, reason) = refusal(trust.verify(&package.csar(), &TenantId::default()));
    assert_eq!(file, "manifest.mf");
    assert!(
        reason.contains("neither in the signature nor in the package"),
        "{reason}"
    );
}

#[test]
fn a_manifest_changed_after_signing_is_refused_naming_the_manifest() {
    let scratch = Scratch::new();
    let ca = Ca::new(&scratch.0, "vendor-ca");
    let signer = ca.issue("vnf-signer", true, None, "signer");
    let package = Package::new(&scratch.0, "pkg");
    package.sign(&signer, false);
    let signed = std::fs::read_to_string(package.root.join("manifest.mf")).expect("manifest");
    package.write(
        "manifest.mf",
        signed.replace("vnf_package_version: 1.0", "vnf_package_version: 6.6"),
    );
    let trust = PackageTrust::from_pem(&ca.pem(), SignaturePolicy::IfPresent).expect("trust");
    let (file, reason) = refusal(trust.verify(&package.csar(), &TenantId::default()));
    assert_eq!(file, "manifest.mf");
    assert!(reason.contains("changed after signing"), "{reason}");

    // A changed artifact with its digest updated in the signed manifest: the same.
    let tampered = format!(
        "{}\n# appended\n",
        std::fs::read_to_string(package.root.join(DF)).expect("df")
    );
    let original_hash = sha256_hex(&std::fs::read(package.root.join(DF)).expect("df"));
    package.write(DF, &tampered);
    package.write(
        "manifest.mf",
        signed.replace(&original_hash, &sha256_hex(tampered.as_bytes())),
    );
    let (_, reason) = refusal(trust.verify(&package.csar(), &TenantId::default()));
    assert!(reason.contains("changed after signing"), "{reason}");
}

#[test]
fn a_signer_from_another_ca_an_expired_signer_and_a_server_certificate_are_refused() {
    let scratch = Scratch::new();
    let ca = Ca::new(&scratch.0, "vendor-ca");
    let other = Ca::new(&scratch.0, "other-ca");
    let trust = PackageTrust::from_pem(&ca.pem(), SignaturePolicy::Require).expect("trust");
    let tenant = TenantId::default();

    let package = Package::new(&scratch.0, "wrong-ca");
    package.sign(&other.issue("stranger", false, None, "signer"), false);
    let (file, reason) = refusal(trust.verify(&package.csar(), &tenant));
    assert_eq!(file, "manifest.mf");
    assert!(reason.contains("not issued by a trusted CA"), "{reason}");
    assert!(reason.contains("CN=stranger"), "{reason}");

    let package = Package::new(&scratch.0, "expired");
    let expired = ca.issue(
        "old-signer",
        true,
        Some(("20200101000000Z", "20210101000000Z")),
        "signer",
    );
    package.sign(&expired, false);
    let (_, reason) = refusal(trust.verify(&package.csar(), &tenant));
    assert!(reason.contains("expired at 2021-01-01"), "{reason}");

    let package = Package::new(&scratch.0, "future");
    let future = ca.issue(
        "early-signer",
        false,
        Some(("20990101000000Z", "21000101000000Z")),
        "signer",
    );
    package.sign(&future, false);
    let (_, reason) = refusal(trust.verify(&package.csar(), &tenant));
    assert!(reason.contains("not valid before 2099-01-01"), "{reason}");

    let package = Package::new(&scratch.0, "server");
    package.sign(&ca.issue("web-server", false, None, "server"), false);
    let (_, reason) = refusal(trust.verify(&package.csar(), &tenant));
    assert!(reason.contains("does not allow code signing"), "{reason}");

    // With no CA at all a signature cannot be trusted either.
    let package = Package::new(&scratch.0, "no-anchor");
    package.sign(&ca.issue("signer-2", false, None, "signer"), false);
    let (_, reason) =
        refusal(PackageTrust::new(SignaturePolicy::IfPresent).verify(&package.csar(), &tenant));
    assert!(reason.contains("no trusted CA is configured"), "{reason}");
}

#[test]
fn unsigned_packages_pass_if_present_and_ignore_but_not_require_and_policies_are_per_tenant() {
    let scratch = Scratch::new();
    let ca = Ca::new(&scratch.0, "vendor-ca");
    let package = Package::new(&scratch.0, "unsigned");
    package.write("manifest.mf", package.manifest_body(""));
    let meta = std::fs::read_to_string(package.root.join("TOSCA-Metadata/TOSCA.meta"))
        .expect("meta")
        .replace(
            "ETSI-Entry-Certificate: Files/Certificates/signer.cert\n",
            "",
        );
    package.write("TOSCA-Metadata/TOSCA.meta", meta);
    let csar = package.csar();
    let strict = TenantId::new("strict");
    let lenient = TenantId::new("lenient");
    let trust = PackageTrust::from_pem(&ca.pem(), SignaturePolicy::IfPresent)
        .expect("trust")
        .with_tenant_policy(strict.clone(), SignaturePolicy::Require);
    assert_eq!(
        trust
            .verify(&csar, &lenient)
            .expect("accepted")
            .security_option,
        None
    );
    let (file, reason) = refusal(trust.verify(&csar, &strict));
    assert_eq!(file, "manifest.mf");
    assert!(reason.contains("not signed"), "{reason}");
    assert!(reason.contains("must be signed"), "{reason}");
}

#[test]
fn under_require_every_file_must_be_listed_in_the_signed_manifest() {
    let scratch = Scratch::new();
    let ca = Ca::new(&scratch.0, "vendor-ca");
    let signer = ca.issue("vnf-signer", false, None, "signer");
    let package = Package::new(&scratch.0, "extra-file");
    package.sign(&signer, false);
    package.write("Scripts/smuggled.sh", "#!/bin/sh\necho unsigned\n");
    let csar = package.csar();
    let tenant = TenantId::default();
    let require = PackageTrust::from_pem(&ca.pem(), SignaturePolicy::Require).expect("trust");
    let (file, reason) = refusal(require.verify(&csar, &tenant));
    assert_eq!(file, "manifest.mf");
    assert!(reason.contains("Scripts/smuggled.sh"), "{reason}");
    let if_present = PackageTrust::from_pem(&ca.pem(), SignaturePolicy::IfPresent).expect("trust");
    if_present
        .verify(&csar, &tenant)
        .expect("if-present checks the signature only");
}

#[test]
fn single_artifact_signatures_are_verified_and_a_tampered_artifact_is_refused() {
    let scratch = Scratch::new();
    let ca = Ca::new(&scratch.0, "vendor-ca");
    let signer = ca.issue("artifact-signer", true, None, "signer");
    let package = Package::new(&scratch.0, "artifact");
    let df = std::fs::read(package.root.join(DF)).expect("df");
    package.write("Files/Signatures/df.sig.cms", signer.sign(&df, true));
    package.write("Files/Certificates/artifact.cert", signer.pem());
    let extra =
        "Signature: Files/Signatures/df.sig.cms\nCertificate: Files/Certificates/artifact.cert\n";
    package.write("manifest.mf", package.manifest_body(extra));
    let meta = std::fs::read_to_string(package.root.join("TOSCA-Metadata/TOSCA.meta"))
        .expect("meta")
        .replace(
            "ETSI-Entry-Certificate: Files/Certificates/signer.cert\n",
            "",
        );
    package.write("TOSCA-Metadata/TOSCA.meta", meta);
    let trust = PackageTrust::from_pem(&ca.pem(), SignaturePolicy::IfPresent).expect("trust");
    let report = trust
        .verify(&package.csar(), &TenantId::default())
        .expect("verified");
    assert_eq!(report.signed_artifacts, vec![DF.to_owned()]);
    assert_eq!(
        report.security_option, None,
        "the manifest itself is not signed"
    );

    // The artifact changes and its digest in the (unsigned) manifest follows: only the
    // artifact's own signature can tell.
    package.write(DF, [df.as_slice(), b"\n# changed\n"].concat());
    package.write("manifest.mf", package.manifest_body(extra));
    let (file, reason) = refusal(trust.verify(&package.csar(), &TenantId::default()));
    assert_eq!(file, DF);
    assert!(reason.contains("Files/Signatures/df.sig.cms"), "{reason}");
    assert!(reason.contains("changed after signing"), "{reason}");
}

#[test]
fn a_garbled_signature_block_is_refused_with_the_reason_not_a_panic() {
    let scratch = Scratch::new();
    let ca = Ca::new(&scratch.0, "vendor-ca");
    let package = Package::new(&scratch.0, "garbled");
    let body = package.manifest_body("");
    package.write(
        "manifest.mf",
        format!("{body}-----BEGIN CMS-----\nbm90IGEgc2lnbmF0dXJl\n-----END CMS-----\n"),
    );
    let trust = PackageTrust::from_pem(&ca.pem(), SignaturePolicy::IfPresent).expect("trust");
    // TOSCA.meta names a certificate file the package lacks.
    match trust.verify(&package.csar(), &TenantId::default()) {
        Err(CsarError::MissingFile {
            path,
            referenced_by,
        }) => {
            assert_eq!(path, "Files/Certificates/signer.cert");
            assert!(
                referenced_by.starts_with("TOSCA-Metadata/TOSCA.meta"),
                "{referenced_by}"
            );
        }
        other => panic!("expected a missing certificate file: {other:?}"),
    }
    package.write(
        "Files/Certificates/signer.cert",
        ca.issue("signer", false, None, "signer").pem(),
    );
    let (file, reason) = refusal(trust.verify(&package.csar(), &TenantId::default()));
    assert_eq!(file, "manifest.mf");
    assert!(reason.contains("not a CMS structure"), "{reason}");
}

#[test]
fn a_ca_bundle_without_certificates_is_refused() {
    let error =
        PackageTrust::from_pem(b"nothing here", SignaturePolicy::Require).expect_err("no CA");
    assert!(error.contains("no certificate"), "{error}");
}

#[tokio::test]
async fn onboarding_records_the_security_option_and_refuses_a_bad_signature_with_its_reason() {
    let scratch = Scratch::new();
    let ca = Ca::new(&scratch.0, "vendor-ca");
    let signer = ca.issue("vnf-signer", false, None, "signer");
    let good = Package::new(&scratch.0, "good");
    good.sign(&signer, false);
    let bad = Package::new(&scratch.0, "bad");
    bad.sign(
        &Ca::new(&scratch.0, "rogue-ca").issue("rogue", false, None, "signer"),
        false,
    );

    let manager =
        VnfPackageManager::builder(Arc::new(MemoryStore::new()), Arc::new(InMemory::new()))
            .config(PackageManagerConfig::default().with_trust(
                PackageTrust::from_pem(&ca.pem(), SignaturePolicy::Require).expect("trust"),
            ))
            .build()
            .expect("manager");
    let tenant = TenantId::default();
    let info = manager
        .onboard_directory(&tenant, &good.root)
        .await
        .expect("onboarded");
    assert_eq!(info.onboarding_state, Onboarding::Onboarded);
    assert_eq!(
        info.package_security_option,
        Some(PackageSecurityOption::Option1)
    );
    assert_eq!(
        info.signing_certificate.as_deref(),
        Some(signer.pem().as_str())
    );

    let error = manager
        .onboard_directory(&tenant, &bad.root)
        .await
        .expect_err("refused");
    assert_eq!(error.status(), 422, "{error}");
    assert!(
        error.to_string().contains("not issued by a trusted CA"),
        "{error}"
    );
    let listed = manager
        .list(&tenant, &Default::default())
        .await
        .expect("list");
    let refused = listed
        .items
        .iter()
        .find(|p| p.onboarding_state == Onboarding::Created)
        .expect("the refused package stays CREATED");
    let details = refused
        .onboarding_failure_details
        .as_ref()
        .expect("details");
    assert!(details.detail.contains("manifest.mf"), "{details:?}");
    assert!(details.detail.contains("CN=rogue"), "{details:?}");
}
