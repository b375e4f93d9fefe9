//! `tacker package validate`: the package checks of onboarding, run locally.

use std::collections::BTreeSet;
use std::path::Path;

use tacker_core::csar::{Csar, CsarOptions};

/// Validates the package at `path` (a zip file or a directory) as onboarding would, and
/// returns its facts: a short text, or pretty JSON with `json`. `missing_ok` lists
/// package paths treated as present but unavailable. The error is the reason the
/// package is invalid.
pub fn validate(path: &Path, json: bool, missing_ok: Vec<String>) -> Result<String, String> {
    let options = CsarOptions {
        missing_ok: missing_ok.into_iter().collect::<BTreeSet<_>>(),
        ..CsarOptions::default()
    };
    let csar = if path.is_dir() {
        Csar::from_dir(path, &options)
    } else {
        Csar::from_zip_file(path, &options)
    }
    .map_err(|e| e.to_string())?;
    let report = tacker_core::vnfd::validate(&csar, &options).map_err(|e| match e {
        tacker_core::Error::Unprocessable(detail) => detail,
        other => other.to_string(),
    })?;
    let facts = report.facts(&csar.entry_definitions);
    if json {
        return serde_json::to_string_pretty(&facts).map_err(|e| e.to_string());
    }
    let mut out = format!(
        "valid: {} {} {} (vnfdId {})\n",
        facts.provider, facts.product_name, facts.software_version, facts.vnfd_id
    );
    for flavour in &facts.flavours {
        out.push_str(&format!(
            "  flavour {}: {} VDU(s), {} CP(s), {} virtual link(s), {} instantiation level(s)\n",
            flavour.id,
            flavour.vdus.len(),
            flavour.vdu_cps.len(),
            flavour.virtual_links.len(),
            flavour.instantiation_levels.len()
        ));
    }
    for warning in &facts.warnings {
        out.push_str(&format!("  warning: {warning}\n"));
    }
    Ok(out.trim_end().to_owned())
}
