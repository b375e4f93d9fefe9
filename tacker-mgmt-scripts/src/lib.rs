//! MgmtDrivers that run a VNF package's own LCM scripts, confined by the sandbox of
//! `tacker-sandbox` (bubblewrap: a read-only copy of the package, a private `/tmp`, no
//! network unless the operator allows it, time and memory limits, nothing of the VNFM's
//! data, keys or configuration).
//!
//! - [`PythonScriptMgmtDriver`]: the Python scripts Tacker v2 packages bind to their
//!   `Vnflcm` hooks, run with Tacker's protocol so that such packages work unchanged.
//! - [`AnsibleMgmtDriver`]: Ansible playbooks of the package, run against the
//!   instance's VNFCs.
//!
//! Both are selected like every MgmtDriver: by the artifact name (or file name) the
//! VNFD binds the hook to, which the operator gives the driver.

mod ansible;
mod python;

pub use ansible::{ANSIBLE_PARAM, AnsibleMgmtDriver, AnsibleSettings};
pub use python::{PythonScriptMgmtDriver, ScriptNetwork};

use tacker_core::package::PackageFiles;
use tacker_core::{Error, Result};
use tacker_sandbox::{SandboxError, Scratch};

pub(crate) use tacker_sandbox::last_chars;

/// The folder of the scratch that holds the package copy (`/job/csar` inside).
const CSAR: &str = "csar";

/// Copies every file of `package` to `csar/` in `scratch`, streamed file by file.
async fn copy_package(package: &dyn PackageFiles, scratch: &Scratch) -> Result<()> {
    for path in package.paths() {
        let stream = package.stream(&path).await?;
        scratch
            .write_stream(&format!("{CSAR}/{path}"), stream)
            .await
            .map_err(|e| Error::Internal(format!("copying {path} for the script: {e}")))?;
    }
    Ok(())
}

/// The package file that `binding` (of `hook`) names as its `kind` (script,
/// playbook); `Unprocessable` when it names none or the package lacks it.
fn bound_file<'a>(
    hook: &str,
    binding: &'a tacker_core::vnfd::LcmOperationBinding,
    package: &dyn PackageFiles,
    kind: &str,
) -> Result<&'a str> {
    let artifact = binding.implementation.as_deref().unwrap_or_default();
    let file = binding.artifact_file.as_deref().ok_or_else(|| {
        Error::Unprocessable(format!(
            "the VNFD binds {hook} to artifact '{artifact}', which names no {kind} file"
        ))
    })?;
    if !package.paths().iter().any(|p| p == file) {
        return Err(Error::Unprocessable(format!(
            "the VNFD binds {hook} to artifact '{artifact}', whose {kind} {file} is not in the package"
        )));
    }
    Ok(file)
}

/// Whether a sandbox error may pass on a later attempt (a slow host).
fn retryable(error: &SandboxError) -> bool {
    matches!(
        error,
        SandboxError::TimedOut { .. } | SandboxError::Io { .. }
    )
}
