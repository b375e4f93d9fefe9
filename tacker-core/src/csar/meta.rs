//! `TOSCA-Metadata/TOSCA.meta` and the `.mf` manifest: the two line-oriented files of a
//! SOL004 CSAR.

use std::collections::BTreeMap;

use super::CsarError;

/// A digest algorithm allowed by SOL004 for artifact hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// SHA-224.
    Sha224,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlgorithm {
    /// Parses `SHA-256`, `sha-256` and the like.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name.trim().to_ascii_uppercase().as_str() {
            "SHA-224" => Self::Sha224,
            "SHA-256" => Self::Sha256,
            "SHA-384" => Self::Sha384,
            "SHA-512" => Self::Sha512,
            _ => return None,
        })
    }

    /// The length of a digest in hexadecimal digits.
    pub fn hex_len(self) -> usize {
        match self {
            Self::Sha224 => 56,
            Self::Sha256 => 64,
            Self::Sha384 => 96,
            Self::Sha512 => 128,
        }
    }

    /// The SOL004 spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha224 => "SHA-224",
            Self::Sha256 => "SHA-256",
            Self::Sha384 => "SHA-384",
            Self::Sha512 => "SHA-512",
        }
    }
}

/// An artifact a TOSCA.meta or manifest block lists with its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactEntry {
    /// The `Source` (or `Name`) value: a path in the package or a URL.
    pub path: String,
    /// The digest algorithm.
    pub algorithm: HashAlgorithm,
    /// The expected digest, as written (hexadecimal).
    pub hash: String,
    /// `Content-Type`, when given.
    pub content_type: Option<String>,
    /// The file that lists it.
    pub declared_in: String,
    /// The line of its `Source`/`Name` key (1-based).
    pub line: usize,
    /// `Signature`: the package file holding a CMS signature of this artifact
    /// (SOL004 individual artifact signature).
    pub signature: Option<String>,
    /// `Certificate`: the package file holding the certificate that signed it.
    pub certificate: Option<String>,
}

impl ArtifactEntry {
    /// Whether the path is a URL rather than a file in the package.
    pub fn is_remote(&self) -> bool {
        let lower = self.path.to_ascii_lowercase();
        lower.starts_with("http://") || lower.starts_with("https://")
    }
}

/// One `key: value` line.
#[derive(Debug, Clone)]
struct Field {
    key: String,
    value: String,
    line: usize,
}

/// Splits a `key: value` file into blocks separated by blank lines.
fn blocks(file: &str, text: &str) -> Result<Vec<Vec<Field>>, CsarError> {
    let mut out: Vec<Vec<Field>> = Vec::new();
    let mut current: Vec<Field> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let content = raw.trim_end_matches('\r');
        if content.trim().is_empty() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            continue;
        }
        let Some((key, value)) = content.split_once(':') else {
            return Err(CsarError::syntax(
                file,
                line,
                format!("expected 'key: value', found '{}'", content.trim()),
            ));
        };
        current.push(Field {
            key: key.trim().to_owned(),
            value: value.trim().to_owned(),
            line,
        });
    }
    if !current.is_empty() {
        out.push(current);
    }
    Ok(out)
}

/// Reads an artifact block (`Source`/`Name`, `Algorithm`, `Hash`, optional
/// `Content-Type`). Returns `None` for a block that carries no digest.
fn artifact_block(file: &str, block: &[Field]) -> Result<Option<ArtifactEntry>, CsarError> {
    let find = |name: &str| block.iter().find(|f| f.key.eq_ignore_ascii_case(name));
    let algorithm = find("Algorithm");
    let hash = find("Hash");
    if algorithm.is_none() && hash.is_none() {
        return Ok(None);
    }
    let first_line = block.first().map_or(0, |f| f.line);
    let source = find("Source").or_else(|| find("Name"));
    let mut missing = Vec::new();
    for (name, field) in [("Source", source), ("Algorithm", algorithm), ("Hash", hash)] {
        if field.is_none_or(|f| f.value.is_empty()) {
            missing.push(name);
        }
    }
    if !missing.is_empty() {
        return Err(CsarError::syntax(
            file,
            first_line,
            format!(
                "artifact block lacks {} (it needs Source, Algorithm and Hash)",
                missing.join(", ")
            ),
        ));
    }
    for field in block {
        let known = [
            "Source",
            "Name",
            "Algorithm",
            "Hash",
            "Content-Type",
            "Signature",
            "Certificate",
        ];
        if !known.iter().any(|k| field.key.eq_ignore_ascii_case(k)) {
            return Err(CsarError::syntax(
                file,
                field.line,
                format!("unknown key '{}' in an artifact block", field.key),
            ));
        }
    }
    let (Some(source), Some(algorithm), Some(hash)) = (source, algorithm, hash) else {
        return Err(CsarError::syntax(
            file,
            first_line,
            "incomplete artifact block",
        ));
    };
    let parsed = HashAlgorithm::parse(&algorithm.value).ok_or_else(|| {
        CsarError::syntax(
            file,
            algorithm.line,
            format!(
                "algorithm '{}' of artifact '{}' is not one of SHA-224, SHA-256, SHA-384, SHA-512",
                algorithm.value, source.value
            ),
        )
    })?;
    if !hash.value.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(CsarError::syntax(
            file,
            hash.line,
            format!(
                "hash '{}' of artifact '{}' is not hexadecimal",
                hash.value, source.value
            ),
        ));
    }
    if hash.value.len() != parsed.hex_len() {
        return Err(CsarError::syntax(
            file,
            hash.line,
            format!(
                "hash '{}' of artifact '{}' has {} digits; a {} digest has {}",
                hash.value,
                source.value,
                hash.value.len(),
                parsed.as_str(),
                parsed.hex_len()
            ),
        ));
    }
    Ok(Some(ArtifactEntry {
        path: source.value.clone(),
        algorithm: parsed,
        hash: hash.value.clone(),
        content_type: find("Content-Type").map(|f| f.value.clone()),
        declared_in: file.to_owned(),
        line: source.line,
        signature: find("Signature").map(|f| f.value.clone()),
        certificate: find("Certificate").map(|f| f.value.clone()),
    }))
}

/// `TOSCA-Metadata/TOSCA.meta`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ToscaMeta {
    /// `TOSCA-Meta-File-Version`.
    pub file_version: Option<String>,
    /// `CSAR-Version`.
    pub csar_version: Option<String>,
    /// `Created-by`.
    pub created_by: Option<String>,
    /// `Entry-Definitions`: the main service template.
    pub entry_definitions: String,
    /// `ETSI-Entry-Manifest`.
    pub etsi_entry_manifest: Option<String>,
    /// `ETSI-Entry-Change-Log`.
    pub etsi_entry_change_log: Option<String>,
    /// `ETSI-Entry-Licenses` (may name several files or directories).
    pub etsi_entry_licenses: Vec<String>,
    /// `ETSI-Entry-Certificate`.
    pub etsi_entry_certificate: Option<String>,
    /// Every key of the first block, as written.
    pub metadata: BTreeMap<String, String>,
    /// Artifact blocks after the first.
    pub artifacts: Vec<ArtifactEntry>,
}

impl ToscaMeta {
    /// Parses TOSCA.meta; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, CsarError> {
        let blocks = blocks(file, text)?;
        let Some((first, rest)) = blocks.split_first() else {
            return Err(CsarError::syntax(file, 1, "the file is empty"));
        };
        let mut meta = ToscaMeta::default();
        for field in first {
            if meta
                .metadata
                .insert(field.key.clone(), field.value.clone())
                .is_some()
            {
                return Err(CsarError::syntax(
                    file,
                    field.line,
                    format!("key '{}' appears twice", field.key),
                ));
            }
            let value = Some(field.value.clone()).filter(|v| !v.is_empty());
            match field.key.as_str() {
                "TOSCA-Meta-File-Version" => meta.file_version = value,
                "CSAR-Version" => meta.csar_version = value,
                "Created-by" | "Created-By" => meta.created_by = value,
                "Entry-Definitions" => meta.entry_definitions = field.value.clone(),
                "ETSI-Entry-Manifest" | "Entry-Manifest" => meta.etsi_entry_manifest = value,
                "ETSI-Entry-Change-Log" | "Entry-Change-Log" => meta.etsi_entry_change_log = value,
                "ETSI-Entry-Licenses" | "Entry-Licenses" => {
                    meta.etsi_entry_licenses =
                        field.value.split_whitespace().map(str::to_owned).collect();
                }
                "ETSI-Entry-Certificate" | "Entry-Certificate" => {
                    meta.etsi_entry_certificate = value
                }
                _ => {}
            }
        }
        if meta.entry_definitions.is_empty() {
            return Err(CsarError::syntax(
                file,
                1,
                "the first block has no Entry-Definitions",
            ));
        }
        if let Some(manifest) = &meta.etsi_entry_manifest
            && !manifest.ends_with(".mf")
        {
            let line = first
                .iter()
                .find(|f| f.key.ends_with("Entry-Manifest"))
                .map_or(1, |f| f.line);
            return Err(CsarError::syntax(
                file,
                line,
                format!("ETSI-Entry-Manifest '{manifest}' is not a .mf file"),
            ));
        }
        for block in rest {
            if let Some(artifact) = artifact_block(file, block)? {
                meta.artifacts.push(artifact);
            }
        }
        Ok(meta)
    }
}

/// The `.mf` manifest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Manifest {
    /// The `metadata:` block (vnf_provider_id, vnf_product_name, vnf_release_date_time,
    /// vnf_package_version, compatible_specification_versions, …).
    pub metadata: BTreeMap<String, String>,
    /// The artifacts listed with digests.
    pub artifacts: Vec<ArtifactEntry>,
    /// `Source` entries without a digest.
    pub unhashed_sources: Vec<String>,
    /// `non_mano_artifact_sets`: set name → sources.
    pub non_mano_artifact_sets: BTreeMap<String, Vec<String>>,
    /// A trailing CMS signature of the manifest (SOL004 option 1), as written.
    pub signature: Option<String>,
}

impl Manifest {
    /// Parses a manifest; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, CsarError> {
        let mut manifest = Manifest::default();
        let mut lines = text.lines().enumerate().peekable();
        let mut section = String::new();
        let mut block: Vec<Field> = Vec::new();
        let flush = |block: &mut Vec<Field>, manifest: &mut Manifest| -> Result<(), CsarError> {
            if block.is_empty() {
                return Ok(());
            }
            match artifact_block(file, block)? {
                Some(artifact) => manifest.artifacts.push(artifact),
                None => {
                    if let Some(source) =
                        block.iter().find(|f| f.key.eq_ignore_ascii_case("Source"))
                    {
                        manifest.unhashed_sources.push(source.value.clone());
                    } else {
                        let line = block.first().map_or(0, |f| f.line);
                        return Err(CsarError::syntax(file, line, "a block without Source"));
                    }
                }
            }
            block.clear();
            Ok(())
        };
        let mut current_set: Option<String> = None;
        while let Some((index, raw)) = lines.next() {
            let line = index + 1;
            let content = raw.trim_end_matches('\r');
            let trimmed = content.trim();
            if trimmed.starts_with("-----BEGIN") {
                flush(&mut block, &mut manifest)?;
                let mut signature = vec![content.to_owned()];
                signature.extend(lines.by_ref().map(|(_, l)| l.to_owned()));
                manifest.signature = Some(signature.join("\n"));
                break;
            }
            if trimmed.is_empty() {
                flush(&mut block, &mut manifest)?;
                if section == "metadata" {
                    section.clear();
                }
                continue;
            }
            if trimmed.starts_with('#') {
                continue;
            }
            let indented = content.starts_with([' ', '\t']);
            let Some((key, value)) = trimmed.split_once(':') else {
                return Err(CsarError::syntax(
                    file,
                    line,
                    format!("expected 'key: value', found '{trimmed}'"),
                ));
            };
            let (key, value) = (key.trim(), value.trim());
            if !indented
                && value.is_empty()
                && (key == "metadata" || key == "non_mano_artifact_sets")
            {
                flush(&mut block, &mut manifest)?;
                section = key.to_owned();
                current_set = None;
                continue;
            }
            match section.as_str() {
                "metadata" => {
                    manifest.metadata.insert(key.to_owned(), value.to_owned());
                }
                "non_mano_artifact_sets" if indented => {
                    if value.is_empty() {
                        current_set = Some(key.to_owned());
                        manifest
                            .non_mano_artifact_sets
                            .entry(key.to_owned())
                            .or_default();
                    } else if key == "Source" {
                        let Some(set) = &current_set else {
                            return Err(CsarError::syntax(
                                file,
                                line,
                                "a Source outside a non-MANO artifact set",
                            ));
                        };
                        manifest
                            .non_mano_artifact_sets
                            .entry(set.clone())
                            .or_default()
                            .push(value.to_owned());
                    } else {
                        return Err(CsarError::syntax(
                            file,
                            line,
                            format!("unexpected key '{key}' in non_mano_artifact_sets"),
                        ));
                    }
                }
                _ => {
                    section.clear();
                    block.push(Field {
                        key: key.to_owned(),
                        value: value.to_owned(),
                        line,
                    });
                }
            }
        }
        flush(&mut block, &mut manifest)?;
        Ok(manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tosca_meta_reads_metadata_and_artifact_blocks() {
        let text = "TOSCA-Meta-File-Version: 1.0\nCreated-by: dummy_user\nCSAR-Version: 1.1\n\
Entry-Definitions: Definitions/top.vnfd.yaml\nETSI-Entry-Manifest: manifest.mf\n\n\
Name: Scripts/install.sh\nContent-Type: test-data\nAlgorithm: SHA-256\nHash: 27bbdb25d8f4ed6d07d6f6581b86515e8b2f0059b236ef7b6f50d6674b34f02a\n\n\
Name: Files/images/cirros.img\nContent-type: application/x-iso9066-image\n";
        let meta = ToscaMeta::parse("TOSCA-Metadata/TOSCA.meta", text).expect("parse");
        assert_eq!(meta.entry_definitions, "Definitions/top.vnfd.yaml");
        assert_eq!(meta.etsi_entry_manifest.as_deref(), Some("manifest.mf"));
        assert_eq!(meta.created_by.as_deref(), Some("dummy_user"));
        assert_eq!(
            meta.artifacts.len(),
            1,
            "a block without a digest is not an artifact entry"
        );
        let artifact = &meta.artifacts[0];
        assert_eq!(artifact.path, "Scripts/install.sh");
        assert_eq!(artifact.algorithm, HashAlgorithm::Sha256);
        assert_eq!(artifact.line, 7);
        assert_eq!(artifact.content_type.as_deref(), Some("test-data"));
    }

    #[test]
    fn tosca_meta_errors_name_file_line_and_rule() {
        let cases = [
            ("Created-by: x\n", 1, "no Entry-Definitions"),
            (
                "Entry-Definitions: a.yaml\nETSI-Entry-Manifest: manifest.mf1\n",
                2,
                "not a .mf file",
            ),
            (
                "Entry-Definitions: a.yaml\n\nName: s.sh\nAlgorithm: sha-255\nHash: 00\n",
                4,
                "sha-255",
            ),
            (
                "Entry-Definitions: a.yaml\n\nName: s.sh\nHash: 00\n",
                3,
                "lacks Algorithm",
            ),
            (
                "Entry-Definitions: a.yaml\n\nName: s.sh\nAlgorithm: SHA-256\nHash: 00\nColour: red\n",
                6,
                "unknown key 'Colour'",
            ),
            (
                "Entry-Definitions: a.yaml\n\nName: s.sh\nAlgorithm: SHA-256\nHash: 27bbdb25d8f4ed6d07d6f6581b86515e8b2f0059b236ef7b6f50d6674b34f02\n",
                5,
                "has 63 digits",
            ),
            (
                "Entry-Definitions: a.yaml\n\nName: s.sh\nAlgorithm: SHA-256\nHash: <Calculated value here>\n",
                5,
                "not hexadecimal",
            ),
            (
                "Entry-Definitions: a.yaml\nno colon here\n",
                2,
                "expected 'key: value'",
            ),
            (
                "Entry-Definitions: a.yaml\nEntry-Definitions: b.yaml\n",
                2,
                "appears twice",
            ),
        ];
        for (text, line, rule) in cases {
            let error = ToscaMeta::parse("TOSCA.meta", text).expect_err(text);
            let message = error.to_string();
            assert!(message.contains(&format!("TOSCA.meta:{line}")), "{message}");
            assert!(message.contains(rule), "{message}");
        }
    }

    #[test]
    fn manifest_reads_metadata_sources_sets_and_signature() {
        let text = "metadata:\n  vnf_provider_id: Company\n  vnf_product_name: Sample VNF\n\
  vnf_release_date_time: 2019-03-14T18:12:00+03:00\n  vnf_package_version: 1.0\n\
  compatible_specification_versions: 2.6.1\n\n\
Source: Definitions/top.vnfd.yaml\nAlgorithm: SHA-224\nHash: 00000000000000000000000000000000000000000000000000000000\n\n\
Source: Files/readme.txt\n\n\
non_mano_artifact_sets:\n  onap_ves_events:\n    Source: Files/Events/events.yaml\n\n\
-----BEGIN CMS-----\nMIIB\n-----END CMS-----\n";
        let manifest = Manifest::parse("VNF.mf", text).expect("parse");
        assert_eq!(manifest.metadata["vnf_provider_id"], "Company");
        assert_eq!(
            manifest.metadata["compatible_specification_versions"],
            "2.6.1"
        );
        assert_eq!(manifest.artifacts.len(), 1);
        assert_eq!(manifest.artifacts[0].algorithm, HashAlgorithm::Sha224);
        assert_eq!(manifest.artifacts[0].line, 8);
        assert_eq!(
            manifest.unhashed_sources,
            vec!["Files/readme.txt".to_string()]
        );
        assert_eq!(
            manifest.non_mano_artifact_sets["onap_ves_events"],
            vec!["Files/Events/events.yaml".to_string()]
        );
        assert!(
            manifest
                .signature
                .as_deref()
                .is_some_and(|s| s.contains("MIIB"))
        );
    }

    #[test]
    fn manifest_without_metadata_is_a_list_of_sources() {
        let text = "Source: Scripts/install.sh\nAlgorithm: SHA-256\nHash: 27bbdb25d8f4ed6d07d6f6581b86515e8b2f0059b236ef7b6f50d6674b34f02a\n\nSource: b\nAlgorithm: SHA-224\nHash: 00000000000000000000000000000000000000000000000000000000\n";
        let manifest = Manifest::parse("manifest.mf", text).expect("parse");
        assert_eq!(manifest.artifacts.len(), 2);
        assert!(manifest.metadata.is_empty());
        let error = Manifest::parse("manifest.mf", "Source: a\nAlgorithm: MD5\nHash: 00\n")
            .expect_err("md5");
        assert!(error.to_string().contains("manifest.mf:2"), "{error}");
    }
}
