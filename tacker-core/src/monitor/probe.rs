//! What probe monitors share: the VNFC endpoints of an instance and the probe
//! settings. The probe loop itself is in `runner` (with the built-in monitors).

use std::net::IpAddr;
use std::time::Duration;

use crate::model::{KeyValuePairs, VnfInstance};
use crate::{Error, Result};

/// A VNFC to probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VnfcEndpoint {
    /// `VnfcResourceInfo.id`.
    pub vnfc_id: String,
    /// The VDU.
    pub vdu_id: String,
    /// The probed address.
    pub address: IpAddr,
    /// The compute resource, so a replaced VNFC is probed afresh.
    pub resource_id: String,
}

/// The endpoints of an instance's VNFCs: each VNFC's first IP address, of the CP whose
/// `cpdId` is `cpd_id` when given. VNFCs without an address are left out.
pub fn vnfc_endpoints(instance: &VnfInstance, cpd_id: Option<&str>) -> Vec<VnfcEndpoint> {
    let Some(info) = &instance.instantiated_vnf_info else {
        return Vec::new();
    };
    info.vnfc_resource_info
        .iter()
        .filter_map(|vnfc| {
            let address = vnfc
                .vnfc_cp_info
                .iter()
                .filter(|cp| cpd_id.is_none_or(|wanted| cp.cpd_id == wanted))
                .flat_map(|cp| cp.cp_protocol_info.iter())
                .filter_map(|protocol| protocol.ip_over_ethernet.as_ref())
                .flat_map(|ip| ip.ip_addresses.iter())
                .flat_map(|ip| ip.addresses.iter())
                .find_map(|text| text.parse::<IpAddr>().ok())?;
            Some(VnfcEndpoint {
                vnfc_id: vnfc.id.clone(),
                vdu_id: vnfc.vdu_id.clone(),
                address,
                resource_id: vnfc.compute_resource.resource_id.clone(),
            })
        })
        .collect()
}

/// How often and how patiently to probe.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeSettings {
    /// Between probe rounds (`intervalMs`, default 1000).
    pub interval: Duration,
    /// For one probe (`timeoutMs`, default 1000).
    pub timeout: Duration,
    /// Consecutive failed rounds that make a VNFC unhealthy (`failureThreshold`,
    /// default 3).
    pub failure_threshold: u32,
    /// Only the CP with this `cpdId` (`cpdId`).
    pub cpd_id: Option<String>,
    /// Only the VNFCs of these VDUs (`vduIds`; all when absent).
    pub vdu_ids: Option<Vec<String>>,
}

impl ProbeSettings {
    /// Reads the common settings of a monitor's parameters; `monitor` names it in
    /// errors.
    pub fn from_params(monitor: &str, params: &KeyValuePairs) -> Result<Self> {
        let millis = |name: &str, default: u64| -> Result<Duration> {
            match params.get(name) {
                None => Ok(Duration::from_millis(default)),
                Some(value) => value
                    .as_u64()
                    .filter(|v| *v > 0 && *v <= 3_600_000)
                    .map(Duration::from_millis)
                    .ok_or_else(|| {
                        Error::InvalidRequest(format!(
                            "vnfConfigurableProperties.monitoring.{monitor}.{name}: expected milliseconds between 1 and 3600000, found {value}"
                        ))
                    }),
            }
        };
        let failure_threshold = match params.get("failureThreshold") {
            None => 3,
            Some(value) => value
                .as_u64()
                .filter(|v| (1..=1000).contains(v))
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| {
                    Error::InvalidRequest(format!(
                        "vnfConfigurableProperties.monitoring.{monitor}.failureThreshold: expected a count between 1 and 1000, found {value}"
                    ))
                })?,
        };
        let cpd_id = match params.get("cpdId") {
            None => None,
            Some(serde_json::Value::String(id)) => Some(id.clone()),
            Some(other) => {
                return Err(Error::InvalidRequest(format!(
                    "vnfConfigurableProperties.monitoring.{monitor}.cpdId: expected a string, found {other}"
                )));
            }
        };
        let vdu_ids = match params.get("vduIds") {
            None => None,
            Some(serde_json::Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|item| {
                        item.as_str().map(str::to_owned).ok_or_else(|| {
                            Error::InvalidRequest(format!(
                                "vnfConfigurableProperties.monitoring.{monitor}.vduIds: expected VDU ids, found {item}"
                            ))
                        })
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
            Some(other) => {
                return Err(Error::InvalidRequest(format!(
                    "vnfConfigurableProperties.monitoring.{monitor}.vduIds: expected an array of VDU ids, found {other}"
                )));
            }
        };
        Ok(Self {
            vdu_ids,
            interval: millis("intervalMs", 1000)?,
            timeout: millis("timeoutMs", 1000)?,
            failure_threshold,
            cpd_id,
        })
    }
}
