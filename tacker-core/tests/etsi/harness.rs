//! Harness for the ETSI NFV schema conformance test (`tests/etsi_schema.rs`).
//!
//! It reads the ETSI OpenAPI definition files (YAML with `definitions:` maps and relative
//! `$ref`s across files) straight from `shared/etsi/openapi`, patches the known defects of
//! those documents (see [`PATCHES`]), and compiles one JSON Schema validator per ETSI
//! definition. The documents are OpenAPI 3.0 schema objects, which are closest to JSON Schema
//! draft 4 (boolean `exclusiveMinimum`, `$ref` siblings ignored); OpenAPI-only keywords such
//! as `nullable` are unknown to draft 4 and therefore ignored.
//!
//! It also loads the hand-built fixtures under `tests/etsi/fixtures/<TypeName>/*.json` and
//! knows which ETSI definition(s) each fixture directory is checked against ([`TARGETS`]).

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use jsonschema::{Draft, Retrieve, Uri, Validator};
use serde_json::{Map, Value, json};

// ---------------------------------------------------------------------------------------------
// The definition files, relative to `shared/etsi/openapi`.
// ---------------------------------------------------------------------------------------------

/// SOL003 VNF lifecycle management (VNF LCM interface, Or-Vnfm).
pub const SOL003_LCM: &str = "SOL002-SOL003-v3.7.1/SOL003/VNFLifecycleManagement/definitions/SOL003VNFLifecycleManagement_def.yaml";
/// SOL003 VNF lifecycle management notifications.
pub const SOL003_LCM_NOTIF: &str = "SOL002-SOL003-v3.7.1/SOL003/VNFLifecycleManagementNotification/definitions/SOL003VNFLifecycleManagementNotification_def.yaml";
/// SOL003 VNF fault management.
pub const SOL003_FM: &str =
    "SOL002-SOL003-v3.7.1/SOL003/VNFFaultManagement/definitions/SOL003VNFFaultManagement_def.yaml";
/// SOL003 VNF fault management notifications.
pub const SOL003_FM_NOTIF: &str = "SOL002-SOL003-v3.7.1/SOL003/VNFFaultManagementNotification/definitions/SOL003VNFFaultManagementNotification_def.yaml";
/// SOL003 VNF lifecycle operation granting.
pub const SOL003_GRANT: &str = "SOL002-SOL003-v3.7.1/SOL003/VNFLifecycleOperationGranting/definitions/SOL003VNFLifecycleOperationGranting_def.yaml";
/// SOL003 VNF package management (the VNFM as a consumer of the NFVO's packages).
pub const SOL003_PKGM: &str = "SOL002-SOL003-v3.7.1/SOL003/VNFPackageManagement/definitions/SOL003VNFPackageManagement_def.yaml";
/// SOL003 VNF package management notifications (what the test NFVO sends).
#[allow(dead_code)]
pub const SOL003_PKGM_NOTIF: &str = "SOL002-SOL003-v3.7.1/SOL003/VNFPackageManagementNotification/definitions/SOL003VNFPackageManagementNotification_def.yaml";
/// SOL003 general definitions.
pub const SOL003_GENERAL: &str = "SOL002-SOL003-v3.7.1/SOL003/General_Definitions/SOL003_def.yaml";
/// SOL002 VNF lifecycle management (Ve-Vnfm).
pub const SOL002_LCM: &str = "SOL002-SOL003-v3.7.1/SOL002/VNFLifecycleManagement/definitions/SOL002VNFLifecycleManagement_def.yaml";
/// SOL002 VNF LCM coordination (what the test NFVO checks coordination requests with).
#[allow(dead_code)]
pub const SOL002_COORD: &str =
    "SOL002-SOL003-v3.7.1/SOL002/VNFLCMCoordination/definitions/SOL002VNFLCMCoordination_def.yaml";
/// SOL002 general definitions.
pub const SOL002_GENERAL: &str = "SOL002-SOL003-v3.7.1/SOL002/General_Definitions/SOL002_def.yaml";
/// SOL005 VNF package management.
pub const SOL005_PKGM: &str =
    "SOL005-v3.7.1/SOL005/VNFPackageManagement/definitions/SOL005VNFPackageManagement_def.yaml";
/// SOL005 VNF package management notifications.
pub const SOL005_PKGM_NOTIF: &str = "SOL005-v3.7.1/SOL005/VNFPackageManagementNotification/definitions/SOL005VNFPackageManagementNotification_def.yaml";

// ---------------------------------------------------------------------------------------------
// Which ETSI definition each fixture directory is validated against.
// ---------------------------------------------------------------------------------------------

/// One schema check for the fixtures of one directory.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// Directory under `tests/etsi/fixtures/` (the ETSI type name).
    pub dir: &'static str,
    /// Definition file, relative to `shared/etsi/openapi`.
    pub file: &'static str,
    /// Name of the definition in that file's `definitions:` map.
    pub def: &'static str,
    /// If set, only fixtures whose file name starts with this prefix are checked.
    pub only_prefix: Option<&'static str>,
}

const fn t(dir: &'static str, file: &'static str) -> Target {
    Target {
        dir,
        file,
        def: dir,
        only_prefix: None,
    }
}

/// Every fixture directory with the definition(s) its fixtures must satisfy. A directory may
/// be listed more than once (e.g. a SOL003 type whose fixtures are also valid SOL002 data).
pub const TARGETS: &[Target] = &[
    // SOL003 VNF LCM: resources and their parts.
    t("VnfInstance", SOL003_LCM),
    // The SOL002 VnfInstance has the same shape plus `instantiatedVnfInfo.vnfcInfo`; checking
    // against it too makes sure the SOL002-only `vnfcInfo` entries are well-formed.
    t("VnfInstance", SOL002_LCM),
    t("VnfcResourceInfo", SOL003_LCM),
    t("VnfVirtualLinkResourceInfo", SOL003_LCM),
    t("VirtualStorageResourceInfo", SOL003_LCM),
    t("ExtVirtualLinkInfo", SOL003_LCM),
    t("ExtManagedVirtualLinkInfo", SOL003_LCM),
    t("VnfExtCpInfo", SOL003_LCM),
    t("ScaleInfo", SOL003_GENERAL),
    t("VimConnectionInfo", SOL003_GENERAL),
    t("ResourceHandle", SOL003_GENERAL),
    t("VnfLcmOpOcc", SOL003_LCM),
    t("AffectedVnfc", SOL003_LCM),
    t("AffectedVirtualLink", SOL003_LCM),
    t("AffectedVirtualStorage", SOL003_LCM),
    t("AffectedExtLinkPort", SOL003_LCM),
    t("VnfInfoModifications", SOL003_LCM),
    t("ProblemDetails", SOL003_GENERAL),
    // SOL003 VNF LCM: requests.
    t("CreateVnfRequest", SOL003_LCM),
    t("InstantiateVnfRequest", SOL003_LCM),
    t("TerminateVnfRequest", SOL003_LCM),
    t("ScaleVnfRequest", SOL003_LCM),
    t("ScaleVnfToLevelRequest", SOL003_LCM),
    t("HealVnfRequest", SOL003_LCM),
    Target {
        dir: "HealVnfRequest",
        file: SOL002_LCM,
        def: "HealVnfRequest",
        only_prefix: Some("sol002_"),
    },
    t("ChangeVnfFlavourRequest", SOL003_LCM),
    t("OperateVnfRequest", SOL003_LCM),
    t("ChangeExtVnfConnectivityRequest", SOL003_LCM),
    t("ChangeCurrentVnfPkgRequest", SOL003_LCM),
    t("VnfInfoModificationRequest", SOL003_LCM),
    t("CancelMode", SOL003_LCM),
    // SOL003 VNF LCM: subscriptions and notifications.
    t("LccnSubscriptionRequest", SOL003_LCM),
    t("LccnSubscription", SOL003_LCM),
    t("LifecycleChangeNotificationsFilter", SOL003_LCM),
    t("VnfLcmOperationOccurrenceNotification", SOL003_LCM_NOTIF),
    t("VnfIdentifierCreationNotification", SOL003_LCM_NOTIF),
    t("VnfIdentifierDeletionNotification", SOL003_LCM_NOTIF),
    // SOL003 VNF fault management.
    t("Alarm", SOL003_FM),
    t("AlarmModifications", SOL003_FM),
    t("FmNotificationsFilter", SOL003_FM),
    t("FmSubscriptionRequest", SOL003_FM),
    t("FmSubscription", SOL003_FM),
    t("AlarmNotification", SOL003_FM_NOTIF),
    t("AlarmClearedNotification", SOL003_FM_NOTIF),
    // SOL003 granting.
    t("GrantRequest", SOL003_GRANT),
    t("Grant", SOL003_GRANT),
    // SOL005 VNF package management.
    t("VnfPkgInfo", SOL005_PKGM),
    t("CreateVnfPkgInfoRequest", SOL005_PKGM),
    t("VnfPkgInfoModifications", SOL005_PKGM),
    t("UploadVnfPackageFromUriRequest", SOL005_PKGM),
    t("PkgmSubscriptionRequest", SOL005_PKGM),
    t("PkgmSubscription", SOL005_PKGM),
    t("VnfPackageOnboardingNotification", SOL005_PKGM_NOTIF),
    t("VnfPackageChangeNotification", SOL005_PKGM_NOTIF),
    // SOL002 only.
    t("VnfcInfo", SOL002_LCM),
];

/// The distinct fixture directories of [`TARGETS`], in table order.
pub fn fixture_dirs() -> Vec<&'static str> {
    let mut dirs: Vec<&'static str> = Vec::new();
    for target in TARGETS {
        if !dirs.contains(&target.dir) {
            dirs.push(target.dir);
        }
    }
    dirs
}

/// The schema checks that apply to the fixture `name` (a file name) of directory `dir`.
pub fn targets_for<'a>(dir: &'a str, name: &'a str) -> impl Iterator<Item = &'static Target> + 'a {
    TARGETS.iter().filter(move |target| {
        target.dir == dir
            && target
                .only_prefix
                .is_none_or(|prefix| name.starts_with(prefix))
    })
}

// ---------------------------------------------------------------------------------------------
// Locating shared/etsi, with the skip / CI rule.
// ---------------------------------------------------------------------------------------------

/// The `shared/etsi/openapi` directory, found relative to this crate.
fn openapi_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/etsi/openapi")
}

/// The loaded ETSI definitions, or `None` when `shared/etsi` is absent outside CI.
///
/// # Panics
///
/// When the definitions are absent and the environment variable `CI` is `"true"`: CI must
/// never silently skip the conformance test.
pub fn etsi() -> Option<&'static Etsi> {
    static ETSI: OnceLock<Etsi> = OnceLock::new();
    if let Some(etsi) = ETSI.get() {
        return Some(etsi);
    }
    let dir = openapi_dir();
    if !dir.is_dir() {
        if std::env::var("CI").is_ok_and(|ci| ci == "true") {
            panic!(
                "the ETSI OpenAPI definitions were not found at {} (CI=true): CI must run the \
                 ETSI schema conformance test; check out shared/ beside the workspace",
                dir.display()
            );
        }
        println!("skipped: ../shared/etsi not found");
        return None;
    }
    let root = dir
        .canonicalize()
        .expect("canonicalize the shared/etsi/openapi directory");
    Some(ETSI.get_or_init(|| Etsi::new(root)))
}

// ---------------------------------------------------------------------------------------------
// Loading documents and compiling validators.
// ---------------------------------------------------------------------------------------------

/// The ETSI definitions: parsed (and patched) documents and compiled validators.
pub struct Etsi {
    root: PathBuf,
    retriever: YamlRetriever,
    validators: Mutex<HashMap<(String, String), Arc<Validator>>>,
}

impl Etsi {
    fn new(root: PathBuf) -> Self {
        let retriever = YamlRetriever {
            root: root.clone(),
            documents: Arc::new(Mutex::new(HashMap::new())),
            applied: Arc::new(Mutex::new(Vec::new())),
        };
        Self {
            root,
            retriever,
            validators: Mutex::new(HashMap::new()),
        }
    }

    /// The validator for definition `def` of `file` (relative to `shared/etsi/openapi`).
    pub fn validator(&self, file: &str, def: &str) -> Result<Arc<Validator>, String> {
        let key = (file.to_owned(), def.to_owned());
        if let Some(validator) = lock(&self.validators).get(&key) {
            return Ok(Arc::clone(validator));
        }
        let path = self.root.join(file);
        // The definition must exist: a `$ref` to a missing JSON pointer would fail at build
        // time anyway, but this gives a clearer message.
        let document = self.retriever.document(&path)?;
        if document.pointer(&format!("/definitions/{def}")).is_none() {
            return Err(format!("{file} has no definition named {def}"));
        }
        let schema = json!({ "$ref": format!("{}#/definitions/{def}", file_uri(&path)) });
        let validator = jsonschema::options()
            .with_draft(Draft::Draft4)
            // Check the standard formats the documents use (`date-time`, `uri`); OpenAPI's own
            // or non-standard ones (`url`, `IP`, `MAC`, `URI`, `binary`, `float`) are unknown
            // to JSON Schema and ignored.
            .should_validate_formats(true)
            .should_ignore_unknown_formats(true)
            .with_retriever(self.retriever.clone())
            .build(&schema)
            .map_err(|err| format!("cannot compile {file}#/definitions/{def}: {err}"))?;
        let validator = Arc::new(validator);
        lock(&self.validators).insert(key, Arc::clone(&validator));
        Ok(validator)
    }

    /// Validates `instance` against definition `def` of `file`; the error lists every
    /// violation with its instance path.
    pub fn validate(&self, file: &str, def: &str, instance: &Value) -> Result<(), String> {
        let validator = self.validator(file, def)?;
        let mut report = String::new();
        for error in validator.iter_errors(instance) {
            let _ = writeln!(
                report,
                "  - at `{}`: {} (schema path {})",
                error.instance_path(),
                error,
                error.schema_path()
            );
        }
        if report.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "not valid against {}#/definitions/{def}:\n{report}",
                short_file(file)
            ))
        }
    }

    /// The names of the patches applied so far, as `file: patch`.
    pub fn applied_patches(&self) -> Vec<String> {
        lock(&self.retriever.applied).clone()
    }

    /// Loads every file that [`PATCHES`] touches, so that every patch is applied (and checked
    /// to still be needed) at least once.
    pub fn load_all_patched_files(&self) -> Result<(), String> {
        for patch in PATCHES {
            self.retriever.document(&self.root.join(patch.file))?;
        }
        Ok(())
    }
}

/// The last path segment of a definition file, for messages.
fn short_file(file: &str) -> &str {
    file.rsplit('/').next().unwrap_or(file)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic in another test thread while holding the lock does not corrupt these maps.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Resolves the documents' `$ref`s: reads `file://` URIs from disk, parses the YAML, applies
/// the [`PATCHES`] and caches the result.
#[derive(Clone)]
struct YamlRetriever {
    root: PathBuf,
    documents: Arc<Mutex<HashMap<PathBuf, Arc<Value>>>>,
    applied: Arc<Mutex<Vec<String>>>,
}

impl YamlRetriever {
    fn document(&self, path: &Path) -> Result<Arc<Value>, String> {
        let path = path
            .canonicalize()
            .map_err(|err| format!("cannot resolve {}: {err}", path.display()))?;
        if let Some(document) = lock(&self.documents).get(&path) {
            return Ok(Arc::clone(document));
        }
        let relative = path
            .strip_prefix(&self.root)
            .map_err(|_| format!("{} is outside {}", path.display(), self.root.display()))?
            .to_str()
            .ok_or_else(|| format!("{} is not UTF-8", path.display()))?
            .replace('\\', "/");
        let text = std::fs::read_to_string(&path)
            .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
        let mut document: Value = serde_saphyr::from_str(&text)
            .map_err(|err| format!("cannot parse {} as YAML: {err}", path.display()))?;
        let mut applied = Vec::new();
        for patch in PATCHES.iter().filter(|patch| patch.file == relative) {
            let definition = document
                .pointer_mut(&format!("/definitions/{}", patch.def))
                .ok_or_else(|| {
                    format!(
                        "patch `{}`: {relative} has no definition {}",
                        patch.name, patch.def
                    )
                })?;
            (patch.apply)(definition).map_err(|err| {
                format!(
                    "patch `{}` on {relative}#/definitions/{}: {err} (the document changed: \
                     review or remove the patch)",
                    patch.name, patch.def
                )
            })?;
            applied.push(format!("{}: {}", short_file(&relative), patch.name));
        }
        let mut documents = lock(&self.documents);
        // Another thread may have loaded it meanwhile; keep the first copy.
        if let Some(existing) = documents.get(&path) {
            return Ok(Arc::clone(existing));
        }
        let document = Arc::new(document);
        documents.insert(path, Arc::clone(&document));
        lock(&self.applied).extend(applied);
        Ok(document)
    }
}

impl Retrieve for YamlRetriever {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let path = path_from_file_uri(uri.as_str())?;
        let document = self.document(&path)?;
        Ok(Value::clone(&document))
    }
}

/// `file://` URI of an absolute path, percent-encoding everything but unreserved characters
/// and `/`.
fn file_uri(path: &Path) -> String {
    let mut uri = String::from("file://");
    for byte in path.to_string_lossy().bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            uri.push(char::from(byte));
        } else {
            let _ = write!(uri, "%{byte:02X}");
        }
    }
    uri
}

/// The path of a `file://` URI (fragment dropped, percent-decoded).
fn path_from_file_uri(uri: &str) -> Result<PathBuf, String> {
    let rest = uri
        .strip_prefix("file://")
        .ok_or_else(|| format!("only file:// references are supported, not {uri}"))?;
    let rest = rest.split('#').next().unwrap_or(rest);
    let bytes = rest.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = rest
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .ok_or_else(|| format!("bad percent-encoding in {uri}"))?;
            decoded.push(hex);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    let path = String::from_utf8(decoded).map_err(|_| format!("{uri} is not UTF-8"))?;
    Ok(PathBuf::from(path))
}

// ---------------------------------------------------------------------------------------------
// Patches for defects of the ETSI documents.
// ---------------------------------------------------------------------------------------------

/// A fix of one definition in one document, applied right after the YAML is loaded. Each patch
/// first checks that the defect it fixes is still there and fails otherwise, so that a fixed
/// upstream document makes the stale patch visible.
pub struct Patch {
    /// Definition file, relative to `shared/etsi/openapi`.
    pub file: &'static str,
    /// Name of the patched definition.
    pub def: &'static str,
    /// Name of the patch function (for reports).
    pub name: &'static str,
    apply: fn(&mut Value) -> Result<(), String>,
}

macro_rules! patch {
    ($file:expr, $def:literal, $fun:ident) => {
        Patch {
            file: $file,
            def: $def,
            name: stringify!($fun),
            apply: $fun,
        }
    };
}

/// Every patch, by file. SOL002 carries its own copies of several SOL003 definitions with the
/// same defects, so those patches are listed for both.
pub const PATCHES: &[Patch] = &[
    // 1. Both 0..1; "not more than one" of them.
    patch!(SOL003_LCM, "VnfLcmOpOcc", changed_info_at_most_one),
    patch!(SOL002_LCM, "VnfLcmOpOcc", changed_info_at_most_one),
    // 2. `oneOf`s over keys of the `ipAddresses` entries.
    patch!(
        SOL003_LCM,
        "IpOverEthernetAddressInfo",
        ip_address_info_alternatives_per_entry
    ),
    patch!(
        SOL002_LCM,
        "IpOverEthernetAddressInfo",
        ip_address_info_alternatives_per_entry
    ),
    patch!(
        SOL003_GENERAL,
        "IpOverEthernetAddressData",
        ip_address_data_alternatives_per_entry
    ),
    patch!(
        SOL002_GENERAL,
        "IpOverEthernetAddressData",
        ip_address_data_alternatives_per_entry
    ),
    // 3. Alternatives, not mandatory; and `vnfdId` is a typo of `vnfdIds`.
    patch!(
        SOL003_GENERAL,
        "VnfInstanceSubscriptionFilter",
        vnf_instance_filter_alternatives
    ),
    patch!(
        SOL002_GENERAL,
        "VnfInstanceSubscriptionFilter",
        vnf_instance_filter_alternatives
    ),
    // 4. `scaleLevel` declared as `scaleToLevel` of type Identifier.
    patch!(SOL003_GENERAL, "ScaleInfo", scale_info_scale_level),
    patch!(SOL002_GENERAL, "ScaleInfo", scale_info_scale_level),
    // 5. PkgmNotificationsFilter.
    patch!(
        SOL005_PKGM,
        "PkgmNotificationsFilter",
        pkgm_filter_notification_types_array
    ),
    patch!(
        SOL005_PKGM,
        "PkgmNotificationsFilter",
        pkgm_filter_alternatives
    ),
    patch!(
        SOL005_PKGM,
        "PkgmNotificationsFilter",
        pkgm_filter_vnf_products
    ),
    // 6. VnfPkgInfo.compatibleSpecificationVersions is 0..N.
    patch!(
        SOL005_PKGM,
        "VnfPkgInfo",
        vnf_pkg_info_compatible_versions_array
    ),
    // 7-10. Further defects found while writing the fixtures.
    patch!(
        SOL005_PKGM,
        "PkgmSubscription",
        pkgm_subscription_id_identifier
    ),
    patch!(
        SOL003_LCM,
        "VnfcResourceInfo",
        vnfc_resource_info_parent_cp_id_per_cp
    ),
    patch!(
        SOL003_LCM,
        "VnfInfoModificationRequest",
        vnf_info_modification_request_vnfd_id
    ),
    patch!(
        SOL002_LCM,
        "VnfVirtualLinkResourceInfo",
        vnf_link_ports_conditional
    ),
    // 11-14. Tightenings: attributes the documents leave untyped or forget to require.
    patch!(
        SOL003_LCM,
        "VnfInstance",
        vnf_instance_extensions_key_value_pairs
    ),
    patch!(
        SOL003_LCM,
        "VipCpInfo",
        vip_cp_info_metadata_key_value_pairs
    ),
    patch!(SOL002_LCM, "VnfcInfo", vnfc_info_state_enum),
    patch!(SOL003_LCM, "VnfLcmOpOcc", vnf_lcm_op_occ_links_required),
    patch!(SOL002_LCM, "VnfLcmOpOcc", vnf_lcm_op_occ_links_required),
    // 15. SOL003's Checksum is a string "#no definition found"; SOL005 and SOL004 define it.
    patch!(SOL003_GENERAL, "Checksum", checksum_object),
    // 16. The SOL003 copy of the package filter requires one of the alternatives too.
    patch!(
        SOL003_PKGM,
        "PkgmNotificationsFilter",
        sol003_pkgm_filter_alternatives
    ),
];

// -- helpers for the patches ------------------------------------------------------------------

fn object_mut<'a>(value: &'a mut Value, what: &str) -> Result<&'a mut Map<String, Value>, String> {
    value
        .as_object_mut()
        .ok_or_else(|| format!("{what} is not an object"))
}

fn property_mut<'a>(definition: &'a mut Value, name: &str) -> Result<&'a mut Value, String> {
    definition
        .pointer_mut(&format!("/properties/{name}"))
        .ok_or_else(|| format!("no property `{name}`"))
}

/// Removes keyword `key` of `schema` and checks that it was `[{required: [a]}, {required: [b]},
/// …]` over exactly `alternatives`.
fn take_required_alternatives(
    schema: &mut Value,
    key: &str,
    alternatives: &[&str],
) -> Result<(), String> {
    let removed = object_mut(schema, "the schema")?
        .remove(key)
        .ok_or_else(|| format!("no `{key}` to remove"))?;
    let expected: Vec<Value> = alternatives
        .iter()
        .map(|name| json!({ "required": [name] }))
        .collect();
    if removed == Value::Array(expected) {
        Ok(())
    } else {
        Err(format!("unexpected `{key}`: {removed}"))
    }
}

/// A schema that is satisfied when at most one of `names` is present.
fn at_most_one_of(names: &[&str]) -> Value {
    let mut pairs = Vec::new();
    for (i, first) in names.iter().enumerate() {
        for second in &names[i + 1..] {
            pairs.push(json!({ "required": [first, second] }));
        }
    }
    if pairs.len() == 1 {
        json!({ "not": pairs.remove(0) })
    } else {
        json!({ "not": { "anyOf": pairs } })
    }
}

/// Adds `schema` to the `allOf` of `target` (creating it if needed).
fn add_all_of(target: &mut Value, schema: Value) -> Result<(), String> {
    let all_of = object_mut(target, "the schema")?
        .entry("allOf")
        .or_insert_with(|| Value::Array(Vec::new()));
    all_of
        .as_array_mut()
        .ok_or("`allOf` is not an array")?
        .push(schema);
    Ok(())
}

// -- the patches ------------------------------------------------------------------------------

/// SOL003 / SOL002 clause 5.5.2.13 (VnfLcmOpOcc): `changedInfo` and
/// `modificationsTriggeredByVnfPkgChange` are both 0..1, and note 2 says "Not more than one of
/// changedInfo and modificationsTriggeredByVnfPkgChange shall be present". The document's
/// top-level `oneOf` requires exactly one of them, so an operation occurrence that changed
/// nothing (e.g. a STARTING INSTANTIATE) is rejected. Replaced by "not both".
fn changed_info_at_most_one(def: &mut Value) -> Result<(), String> {
    let alternatives = ["changedInfo", "modificationsTriggeredByVnfPkgChange"];
    take_required_alternatives(def, "oneOf", &alternatives)?;
    add_all_of(def, at_most_one_of(&alternatives))
}

/// SOL003 / SOL002 IpOverEthernetAddressInfo, note 2: "Exactly one of
/// "addresses" or "addressRange" shall be present" — these are attributes of each
/// `ipAddresses` entry, yet the document puts the `oneOf` on the top-level object, where they
/// never occur, so every valid value is rejected. The `oneOf` is moved into the `ipAddresses`
/// items as "at most one" of the two.
fn ip_address_info_alternatives_per_entry(def: &mut Value) -> Result<(), String> {
    take_required_alternatives(def, "oneOf", &["addresses", "addressRange"])?;
    let items = def
        .pointer_mut("/properties/ipAddresses/items")
        .ok_or("no `ipAddresses` items")?;
    add_all_of(items, at_most_one_of(&["addresses", "addressRange"]))
}

/// SOL003 / SOL002 IpOverEthernetAddressData, note 2: "Exactly one of
/// "fixedAddresses", "numDynamicAddresses" or "ipAddressRange" shall be present" — attributes
/// of each `ipAddresses` entry (where the range is called `addressRange`), yet the `oneOf` is
/// on the top-level object, so every valid value is rejected. Moved into the `ipAddresses`
/// items as "at most one" of `fixedAddresses`, `numDynamicAddresses`, `addressRange`.
fn ip_address_data_alternatives_per_entry(def: &mut Value) -> Result<(), String> {
    take_required_alternatives(
        def,
        "oneOf",
        &["fixedAddresses", "numDynamicAddresses", "ipAddressRange"],
    )?;
    let items = def
        .pointer_mut("/properties/ipAddresses/items")
        .ok_or("no `ipAddresses` items")?;
    add_all_of(
        items,
        at_most_one_of(&["fixedAddresses", "numDynamicAddresses", "addressRange"]),
    )
}

/// SOL003 / SOL002 VnfInstanceSubscriptionFilter: every attribute is 0..N, and
/// notes 1 and 2 say "vnfdIds" / "vnfProductsFromProviders" and "vnfInstanceIds" /
/// "vnfInstanceNames" "should not be used both in the same filter instance". The document
/// instead requires one of each pair (`anyOf` of `oneOf`s, with the typo `vnfdId`), so an
/// empty filter, or one with only `vnfdIds`, is rejected. Replaced by "not both" per pair.
fn vnf_instance_filter_alternatives(def: &mut Value) -> Result<(), String> {
    let removed = object_mut(def, "the definition")?
        .remove("anyOf")
        .ok_or("no `anyOf` to remove")?;
    let expected = json!([
        { "oneOf": [ { "required": ["vnfdId"] }, { "required": ["vnfProductsFromProviders"] } ] },
        { "oneOf": [ { "required": ["vnfInstanceIds"] }, { "required": ["vnfInstanceNames"] } ] },
    ]);
    if removed != expected {
        return Err(format!("unexpected `anyOf`: {removed}"));
    }
    add_all_of(
        def,
        at_most_one_of(&["vnfdIds", "vnfProductsFromProviders"]),
    )?;
    add_all_of(def, at_most_one_of(&["vnfInstanceIds", "vnfInstanceNames"]))
}

/// SOL003 / SOL002 ScaleInfo: the attribute is `scaleLevel` (1) of type Integer,
/// "Indicates the scale level. The minimum value shall be 0". The document requires
/// `scaleLevel` but declares the property as `scaleToLevel` with type Identifier (string), so
/// `scaleLevel` is never type-checked. Replaced by `scaleLevel: integer, minimum 0`.
fn scale_info_scale_level(def: &mut Value) -> Result<(), String> {
    let properties = object_mut(
        def.get_mut("properties").ok_or("no `properties`")?,
        "`properties`",
    )?;
    if properties.contains_key("scaleLevel") {
        return Err("`scaleLevel` is already declared".into());
    }
    properties
        .remove("scaleToLevel")
        .ok_or("no `scaleToLevel` property")?;
    properties.insert(
        "scaleLevel".into(),
        json!({ "type": "integer", "minimum": 0 }),
    );
    Ok(())
}

/// SOL005 PkgmNotificationsFilter: `notificationTypes` is 0..N of an enumeration
/// ("Match particular notification types"), but the document declares a single string.
/// Replaced by an array of that enumeration, as in the SOL003 copy of the type.
fn pkgm_filter_notification_types_array(def: &mut Value) -> Result<(), String> {
    let property = property_mut(def, "notificationTypes")?;
    if property.get("type") != Some(&json!("string")) {
        return Err(format!("`notificationTypes` is not a string: {property}"));
    }
    let properties = object_mut(property, "`notificationTypes`")?;
    properties.remove("type");
    let item = json!({ "type": "string", "enum": properties.remove("enum").ok_or("no enum")? });
    properties.insert("type".into(), json!("array"));
    properties.insert("items".into(), item);
    Ok(())
}

/// SOL005 PkgmNotificationsFilter, note 2: "vnfProductsFromProviders", "vnfdId"
/// and "vnfPkgId" are alternatives that "should not be used both in the same filter
/// instance", and all attributes are 0..N. The document's top-level `oneOf` requires exactly
/// one of them, so a filter on notification types only is rejected. Replaced by "at most
/// one".
fn pkgm_filter_alternatives(def: &mut Value) -> Result<(), String> {
    let alternatives = ["vnfProductsFromProviders", "vnfdId", "vnfPkgId"];
    take_required_alternatives(def, "oneOf", &alternatives)?;
    add_all_of(def, at_most_one_of(&alternatives))
}

/// SOL005 PkgmNotificationsFilter: the entries of `vnfProductsFromProviders` hold
/// `vnfProvider` and `vnfProducts` (0..N of `vnfProductName` + `versions`), as in every other
/// ETSI filter; the document names the inner list `vnfProductsFromProviders` again, so a
/// correct `vnfProducts` list is never checked. Renamed to `vnfProducts`.
fn pkgm_filter_vnf_products(def: &mut Value) -> Result<(), String> {
    let properties = def
        .pointer_mut("/properties/vnfProductsFromProviders/items/properties")
        .and_then(Value::as_object_mut)
        .ok_or("no `vnfProductsFromProviders` item properties")?;
    if properties.contains_key("vnfProducts") {
        return Err("`vnfProducts` is already declared".into());
    }
    let inner = properties
        .remove("vnfProductsFromProviders")
        .ok_or("no inner `vnfProductsFromProviders`")?;
    properties.insert("vnfProducts".into(), inner);
    Ok(())
}

/// SOL005 table 9.5.2.5-1 (VnfPkgInfo): `compatibleSpecificationVersions` is Version 0..N ("Each entry
/// shall be formatted as defined in clause 4.3.2 of ETSI GS NFV-SOL 004"), but the document
/// declares a single Version. Replaced by an array of strings.
fn vnf_pkg_info_compatible_versions_array(def: &mut Value) -> Result<(), String> {
    let property = property_mut(def, "compatibleSpecificationVersions")?;
    let reference = property
        .get("$ref")
        .and_then(Value::as_str)
        .ok_or("`compatibleSpecificationVersions` is not a single $ref")?;
    if !reference.ends_with("#/definitions/Version") {
        return Err(format!("unexpected $ref {reference}"));
    }
    *property = json!({ "type": "array", "items": { "type": "string" } });
    Ok(())
}

/// SOL003 PkgmNotificationsFilter: as in SOL005 (see [`pkgm_filter_alternatives`]), the
/// alternatives of note 2 are made mandatory, here by an `anyOf` holding one `oneOf`, so a
/// filter on notification types only is rejected. Replaced by "at most one".
fn sol003_pkgm_filter_alternatives(def: &mut Value) -> Result<(), String> {
    let alternatives = ["vnfProductsFromProviders", "vnfdId", "vnfPkgId"];
    let any_of = object_mut(def, "PkgmNotificationsFilter")?
        .remove("anyOf")
        .ok_or("no top-level `anyOf`")?;
    let mut inner = any_of
        .as_array()
        .and_then(|entries| entries.first())
        .cloned()
        .ok_or("the `anyOf` is not a list")?;
    take_required_alternatives(&mut inner, "oneOf", &alternatives)?;
    add_all_of(def, at_most_one_of(&alternatives))
}

/// SOL003 Checksum: the document leaves it a bare string ("no definition found"), while
/// the VnfPkgInfo it types carries the SOL004 checksum of SOL005: an object with the
/// `algorithm` and the hexadecimal `hash`.
fn checksum_object(def: &mut Value) -> Result<(), String> {
    if def.get("type").and_then(Value::as_str) != Some("string") {
        return Err("Checksum is no longer a string".to_owned());
    }
    *def = json!({
        "type": "object",
        "required": ["algorithm", "hash"],
        "properties": {
            "algorithm": {"type": "string"},
            "hash": {"type": "string"},
        },
    });
    Ok(())
}

/// SOL005 PkgmSubscription: `id` is an Identifier ("Identifier of this "Individual
/// subscription" resource"), but the document declares it a Uri, which in SOL005 carries
/// `format: uri`, so a UUID identifier is rejected (the SOL003 copy of the type declares an
/// Identifier). Replaced by an unformatted string.
fn pkgm_subscription_id_identifier(def: &mut Value) -> Result<(), String> {
    let property = property_mut(def, "id")?;
    let reference = property.get("$ref").and_then(Value::as_str).unwrap_or("");
    if !reference.ends_with("#/definitions/Uri") {
        return Err(format!("`id` is not a Uri: {property}"));
    }
    *property = json!({ "type": "string" });
    Ok(())
}

/// SOL003 clause 5.5.2.2 (VnfInstance): `extensions` is KeyValuePairs 0..1, but the document gives
/// it only a description, so anything is accepted. Tightened to an object (KeyValuePairs).
fn vnf_instance_extensions_key_value_pairs(def: &mut Value) -> Result<(), String> {
    let property = object_mut(property_mut(def, "extensions")?, "`extensions`")?;
    if property.contains_key("$ref") || property.contains_key("type") {
        return Err("`extensions` already has a type".into());
    }
    property.insert("type".into(), json!("object"));
    Ok(())
}

/// SOL003 VnfcResourceInfo: `parentCpId` identifies "another VNFC CP instance that corresponds to
/// the parent port of a trunk that the present VNFC CP instance participates in", i.e. it is an
/// attribute of each `vnfcCpInfo` entry, where the SOL002 and SOL005 copies of this type
/// declare it. The SOL003 document declares it one level up, on VnfcResourceInfo itself, so
/// it is never checked where it occurs. Moved into the `vnfcCpInfo` items.
fn vnfc_resource_info_parent_cp_id_per_cp(def: &mut Value) -> Result<(), String> {
    let properties = object_mut(
        def.get_mut("properties").ok_or("no `properties`")?,
        "`properties`",
    )?;
    let parent = properties
        .remove("parentCpId")
        .ok_or("no top-level `parentCpId`")?;
    let cp_properties = properties
        .get_mut("vnfcCpInfo")
        .and_then(|cp| cp.pointer_mut("/items/properties"))
        .and_then(Value::as_object_mut)
        .ok_or("no `vnfcCpInfo` item properties")?;
    if cp_properties.contains_key("parentCpId") {
        return Err("`vnfcCpInfo` entries already declare `parentCpId`".into());
    }
    cp_properties.insert("parentCpId".into(), parent);
    Ok(())
}

/// SOL003 VnfInfoModificationRequest: the VNF package is changed by giving the new `vnfdId`
/// (VnfInfoModifications signals "modifications of the "vnfdId" attribute" requested "explicitly
/// in the "VnfInfoModificationRequest"", and the SOL002 copy of the request declares `vnfdId`);
/// the document still declares the SOL003 v2 attribute `vnfPkgId`, so `vnfdId` is never checked.
/// Renamed to `vnfdId`.
fn vnf_info_modification_request_vnfd_id(def: &mut Value) -> Result<(), String> {
    let properties = object_mut(
        def.get_mut("properties").ok_or("no `properties`")?,
        "`properties`",
    )?;
    if properties.contains_key("vnfdId") {
        return Err("`vnfdId` is already declared".into());
    }
    let property = properties.remove("vnfPkgId").ok_or("no `vnfPkgId`")?;
    properties.insert("vnfdId".into(), property);
    Ok(())
}

/// SOL003 VipCpInfo: `metadata` is KeyValuePairs 0..1; the document has a broken
/// `type: array` with an empty `items:` beside the `$ref`, which draft 4 ignores only because
/// `$ref` wins. Reduced to the `$ref`.
fn vip_cp_info_metadata_key_value_pairs(def: &mut Value) -> Result<(), String> {
    let property = object_mut(property_mut(def, "metadata")?, "`metadata`")?;
    if property.get("type") != Some(&json!("array")) || property.get("items") != Some(&Value::Null)
    {
        return Err("`metadata` is no longer `type: array` with empty items".into());
    }
    property.remove("type");
    property.remove("items");
    Ok(())
}

/// SOL002 VnfcInfo: `vnfcState` is an enumeration (STARTED, STOPPED); the document
/// also has a stray `$ref: IdentifierInVnf` beside the enum, and in draft 4 a `$ref` hides its
/// siblings, so any string is accepted. The `$ref` is dropped so that the enum applies.
fn vnfc_info_state_enum(def: &mut Value) -> Result<(), String> {
    let property = object_mut(property_mut(def, "vnfcState")?, "`vnfcState`")?;
    if !property.contains_key("enum") {
        return Err("`vnfcState` has no enum".into());
    }
    property
        .remove("$ref")
        .ok_or("`vnfcState` has no stray $ref")?;
    Ok(())
}

/// SOL003 / SOL002 clause 5.5.2.13 (VnfLcmOpOcc): `_links` ("Links to resources related to this
/// resource") has cardinality 1, like the `_links` of every other resource representation,
/// and the document itself declares `self` and `vnfInstance` inside it as required; but it
/// omits `_links` from the definition's `required` list. Tightened: `_links` is required.
fn vnf_lcm_op_occ_links_required(def: &mut Value) -> Result<(), String> {
    if def.pointer("/properties/_links").is_none() {
        return Err("no `_links` property".into());
    }
    let required = def
        .get_mut("required")
        .and_then(Value::as_array_mut)
        .ok_or("no `required` list")?;
    if required.contains(&json!("_links")) {
        return Err("`_links` is already required".into());
    }
    required.push(json!("_links"));
    Ok(())
}

/// SOL002 VnfVirtualLinkResourceInfo: `vnfLinkPorts` "Shall be present when the linkPort is used
/// for external connectivity by the VNF […]. May be present otherwise" — conditional, 0..N, as
/// in the SOL003 copy of the type; the SOL002 document lists it as required, which rejects an
/// internal VL without link ports. Dropped from `required`.
fn vnf_link_ports_conditional(def: &mut Value) -> Result<(), String> {
    let required = def
        .get_mut("required")
        .and_then(Value::as_array_mut)
        .ok_or("no `required` list")?;
    let before = required.len();
    required.retain(|name| name != "vnfLinkPorts");
    if required.len() == before {
        return Err("`vnfLinkPorts` is not required".into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Fixtures.
// ---------------------------------------------------------------------------------------------

/// One fixture file.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// Its directory (the ETSI type name).
    pub dir: &'static str,
    /// Its file name.
    pub name: String,
    /// Its content.
    pub value: Value,
}

impl Fixture {
    /// `Dir/name.json`, for messages.
    pub fn label(&self) -> String {
        format!("{}/{}", self.dir, self.name)
    }
}

/// The fixture root directory.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/etsi/fixtures")
}

/// The fixtures of directory `dir`, sorted by file name.
///
/// # Panics
///
/// When the directory cannot be read or a file is not JSON.
pub fn fixtures(dir: &'static str) -> Vec<Fixture> {
    let path = fixtures_dir().join(dir);
    let entries =
        std::fs::read_dir(&path).unwrap_or_else(|err| panic!("read {}: {err}", path.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("read a fixture directory entry").path())
        .filter(|file| file.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|err| panic!("read {}: {err}", file.display()));
            let value = serde_json::from_str(&text)
                .unwrap_or_else(|err| panic!("{} is not JSON: {err}", file.display()));
            let name = file
                .file_name()
                .expect("a fixture file name")
                .to_string_lossy()
                .into_owned();
            Fixture { dir, name, value }
        })
        .collect()
}

/// Names of the directories that exist under the fixture root.
pub fn existing_fixture_dirs() -> Vec<String> {
    let mut dirs: Vec<String> = std::fs::read_dir(fixtures_dir())
        .expect("read the fixture root")
        .map(|entry| entry.expect("read a fixture root entry"))
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    dirs
}

// ---------------------------------------------------------------------------------------------
// Comparing JSON values.
// ---------------------------------------------------------------------------------------------

/// One difference between an expected and an actual JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// JSON pointer of the differing value (`/` for the root).
    pub path: String,
    /// What differs there.
    pub message: String,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at {}: {}", self.path, self.message)
    }
}

/// Every difference between `expected` and `actual`, in document order (object keys sorted);
/// empty if they are equal. Differences inside a differing subtree are reported once, at the
/// deepest path where both sides still have a value.
pub fn differences(expected: &Value, actual: &Value) -> Vec<Difference> {
    let mut found = Vec::new();
    diff_at("", expected, actual, &mut found);
    found
}

fn diff_at(path: &str, expected: &Value, actual: &Value, found: &mut Vec<Difference>) {
    match (expected, actual) {
        (Value::Object(expected_map), Value::Object(actual_map)) => {
            let keys: BTreeSet<&String> = expected_map.keys().chain(actual_map.keys()).collect();
            for key in keys {
                let child = format!("{path}/{}", key.replace('~', "~0").replace('/', "~1"));
                match (expected_map.get(key), actual_map.get(key)) {
                    (Some(e), Some(a)) => diff_at(&child, e, a, found),
                    (Some(e), None) => found.push(Difference {
                        path: child,
                        message: format!("missing after the round trip (expected {e})"),
                    }),
                    (None, Some(a)) => found.push(Difference {
                        path: child,
                        message: format!("added by the round trip (got {a})"),
                    }),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(expected_list), Value::Array(actual_list)) => {
            for (i, (e, a)) in expected_list.iter().zip(actual_list).enumerate() {
                diff_at(&format!("{path}/{i}"), e, a, found);
            }
            if expected_list.len() != actual_list.len() {
                found.push(Difference {
                    path: root_or(path),
                    message: format!(
                        "expected {} entries, got {}",
                        expected_list.len(),
                        actual_list.len()
                    ),
                });
            }
        }
        (Value::String(e), Value::String(a)) if same_instant(e, a) => {}
        _ if expected != actual => {
            found.push(Difference {
                path: root_or(path),
                message: format!("expected {expected}, got {actual}"),
            });
        }
        _ => {}
    }
}

/// Whether two strings are RFC 3339 timestamps of the same instant. The model keeps
/// timestamps in UTC, so `…T11:19:58+02:00` comes back as `…T09:19:58Z`: the same
/// ETSI `DateTime`, written another way.
fn same_instant(expected: &str, actual: &str) -> bool {
    match (
        chrono::DateTime::parse_from_rfc3339(expected),
        chrono::DateTime::parse_from_rfc3339(actual),
    ) {
        (Ok(e), Ok(a)) => e == a,
        _ => false,
    }
}

/// `path`, or `/` for the root.
fn root_or(path: &str) -> String {
    if path.is_empty() {
        "/".to_owned()
    } else {
        path.to_owned()
    }
}
