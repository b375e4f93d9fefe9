//! `VimRegistry`: the VIMs of each tenant, their credentials sealed at rest, and the
//! tenant's default VIM.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

use super::{Sealer, VimDriver};
use crate::filter::Filter;
use crate::model::{DateTime, KeyValuePairs, VimConnectionInfo};
use crate::store::{
    ListQuery, Page, RecordKind, Store, StoreExt, VimRecord, VnfInstanceRecord, Write,
};
use crate::{Error, Result, TenantId, new_id};

/// A VIM to register.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VimRegistration {
    /// A name unique in the tenant.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// `vimType`, e.g. `ETSINFV.OPENSTACK_KEYSTONE.V_3`.
    pub vim_type: String,
    /// Endpoint information.
    #[serde(default)]
    pub interface_info: KeyValuePairs,
    /// Credentials; sealed before they are stored, never returned.
    #[serde(default)]
    pub access_info: KeyValuePairs,
    /// VIM-specific extras.
    #[serde(default)]
    pub extra: KeyValuePairs,
    /// Whether it becomes the tenant's default VIM.
    #[serde(default)]
    pub is_default: bool,
}

impl VimRegistration {
    /// A registration of `name` of type `vim_type`, with no endpoint or credentials
    /// yet, not the default VIM.
    pub fn new(name: impl Into<String>, vim_type: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            vim_type: vim_type.into(),
            ..Self::default()
        }
    }

    /// The same with a description.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// The same with endpoint information (`interfaceInfo`).
    pub fn with_interface_info(mut self, interface_info: KeyValuePairs) -> Self {
        self.interface_info = interface_info;
        self
    }

    /// The same with credentials (`accessInfo`), sealed before they are stored.
    pub fn with_access_info(mut self, access_info: KeyValuePairs) -> Self {
        self.access_info = access_info;
        self
    }

    /// The same as the tenant's default VIM.
    pub fn as_default(mut self) -> Self {
        self.is_default = true;
        self
    }
}

/// Changes to a registered VIM; absent fields stay as they are.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VimUpdate {
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// New description.
    #[serde(default)]
    pub description: Option<String>,
    /// New endpoint information.
    #[serde(default)]
    pub interface_info: Option<KeyValuePairs>,
    /// New credentials.
    #[serde(default)]
    pub access_info: Option<KeyValuePairs>,
    /// New extras.
    #[serde(default)]
    pub extra: Option<KeyValuePairs>,
    /// Make it the default VIM (`true`), or no longer the default (`false`).
    #[serde(default)]
    pub is_default: Option<bool>,
}

/// A registered VIM as reads show it: no credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VimInfo {
    /// The VIM's id (also its `vimId` in `vimConnectionInfo`).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `vimType`.
    pub vim_type: String,
    /// Endpoint information.
    pub interface_info: KeyValuePairs,
    /// VIM-specific extras.
    pub extra: KeyValuePairs,
    /// Whether it is the tenant's default VIM.
    pub is_default: bool,
    /// When it was registered.
    pub created_at: DateTime,
}

impl From<&VimRecord> for VimInfo {
    fn from(record: &VimRecord) -> Self {
        Self {
            id: record.id.clone(),
            name: record.name.clone(),
            description: record.description.clone(),
            vim_type: record.vim_type.clone(),
            interface_info: record.interface_info.clone(),
            extra: record.extra.clone(),
            is_default: record.is_default,
            created_at: record.created_at,
        }
    }
}

/// The VIM registry. Cheap to clone.
#[derive(Clone)]
pub struct VimRegistry {
    store: Arc<dyn Store>,
    sealer: Sealer,
    drivers: Arc<HashMap<String, Arc<dyn VimDriver>>>,
}

impl std::fmt::Debug for VimRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VimRegistry")
            .field("vim_types", &self.drivers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn context(tenant: &TenantId, id: &str) -> String {
    format!("{tenant}/vim/{id}")
}

impl VimRegistry {
    /// A registry over `store`, sealing with `sealer`, validating VIMs with `drivers`.
    pub fn new(store: Arc<dyn Store>, sealer: Sealer, drivers: Vec<Arc<dyn VimDriver>>) -> Self {
        let drivers = drivers
            .into_iter()
            .map(|d| (d.vim_type().to_owned(), d))
            .collect();
        Self {
            store,
            sealer,
            drivers: Arc::new(drivers),
        }
    }

    async fn validate(&self, vim: &VimConnectionInfo) -> Result<()> {
        let driver = self.drivers.get(&vim.vim_type).ok_or_else(|| {
            Error::Unprocessable(format!(
                "no VIM driver for vimType {} (known: {})",
                vim.vim_type,
                self.drivers.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })?;
        // A VIM that cannot be reached or refuses the credentials is a problem of the
        // registration (4xx), whatever the driver's own error kind.
        driver
            .validate(vim)
            .await
            .map(drop)
            .map_err(|error| match error {
                Error::Driver { .. } | Error::Internal(_) => Error::InvalidRequest(format!(
                    "the VIM could not be validated: {}",
                    crate::error::bounded_reason(&error.to_problem_details().detail)
                )),
                other => other,
            })
    }

    fn seal(
        &self,
        tenant: &TenantId,
        id: &str,
        access_info: &KeyValuePairs,
    ) -> Result<crate::store::Sealed> {
        self.sealer.seal_json(&context(tenant, id), access_info)
    }

    fn open(&self, tenant: &TenantId, record: &VimRecord) -> Result<KeyValuePairs> {
        self.sealer
            .open_json(&context(tenant, &record.id), &record.access_info)
    }

    async fn current_default(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<crate::store::Versioned<VimRecord>>> {
        let page = self
            .store
            .list_typed::<VimRecord>(
                tenant,
                &ListQuery::filtered(Filter::eq("isDefault", "true")).with_limit(1),
            )
            .await?;
        Ok(page.items.into_iter().next())
    }

    /// Registers a VIM after its driver checked the credentials. With `isDefault` it
    /// replaces the tenant's default VIM in the same commit.
    pub async fn register(
        &self,
        tenant: &TenantId,
        registration: VimRegistration,
    ) -> Result<VimInfo> {
        if registration.name.trim().is_empty() {
            return Err(Error::InvalidRequest("name: a VIM needs a name".to_owned()));
        }
        let connection = VimConnectionInfo {
            vim_id: None,
            vim_type: registration.vim_type.clone(),
            interface_info: registration.interface_info.clone(),
            access_info: registration.access_info.clone(),
            extra: registration.extra.clone(),
        };
        self.validate(&connection).await?;
        let id = new_id();
        let record = VimRecord {
            id: id.clone(),
            name: registration.name,
            description: registration.description,
            vim_type: registration.vim_type,
            interface_info: registration.interface_info,
            access_info: self.seal(tenant, &id, &registration.access_info)?,
            extra: registration.extra,
            is_default: registration.is_default,
            created_at: Utc::now(),
        };
        let mut writes = Vec::new();
        if record.is_default
            && let Some(previous) = self.current_default(tenant).await?
        {
            let mut cleared = previous.value;
            cleared.is_default = false;
            writes.push(Write::Update {
                record: cleared.into(),
                expected_version: previous.version,
            });
        }
        let info = VimInfo::from(&record);
        writes.push(Write::Insert(record.into()));
        self.store.commit(tenant, writes).await?;
        Ok(info)
    }

    /// One VIM, without credentials.
    pub async fn get(&self, tenant: &TenantId, id: &str) -> Result<VimInfo> {
        Ok(VimInfo::from(
            &self.store.get_typed::<VimRecord>(tenant, id).await?.value,
        ))
    }

    /// VIMs, filtered and paged, without credentials.
    pub async fn list(&self, tenant: &TenantId, query: &ListQuery) -> Result<Page<VimInfo>> {
        let page = self.store.list_typed::<VimRecord>(tenant, query).await?;
        Ok(Page {
            items: page.items.iter().map(|v| VimInfo::from(&v.value)).collect(),
            next_marker: page.next_marker,
        })
    }

    /// Changes a VIM; new connection details are checked by its driver first.
    pub async fn update(&self, tenant: &TenantId, id: &str, update: VimUpdate) -> Result<VimInfo> {
        let current = self.store.get_typed::<VimRecord>(tenant, id).await?;
        let mut record = current.value.clone();
        if let Some(name) = update.name {
            if name.trim().is_empty() {
                return Err(Error::InvalidRequest("name: a VIM needs a name".to_owned()));
            }
            record.name = name;
        }
        if let Some(description) = update.description {
            record.description = Some(description);
        }
        let reconnect = update.interface_info.is_some()
            || update.access_info.is_some()
            || update.extra.is_some();
        if let Some(interface_info) = update.interface_info {
            record.interface_info = interface_info;
        }
        if let Some(extra) = update.extra {
            record.extra = extra;
        }
        let access_info = match update.access_info {
            Some(access_info) => access_info,
            None => self.open(tenant, &record)?,
        };
        if reconnect {
            let connection = VimConnectionInfo {
                vim_id: Some(id.to_owned()),
                vim_type: record.vim_type.clone(),
                interface_info: record.interface_info.clone(),
                access_info: access_info.clone(),
                extra: record.extra.clone(),
            };
            self.validate(&connection).await?;
        }
        record.access_info = self.seal(tenant, id, &access_info)?;
        let mut writes = Vec::new();
        if let Some(is_default) = update.is_default {
            if is_default
                && !current.value.is_default
                && let Some(previous) = self.current_default(tenant).await?
            {
                let mut cleared = previous.value;
                cleared.is_default = false;
                writes.push(Write::Update {
                    record: cleared.into(),
                    expected_version: previous.version,
                });
            }
            record.is_default = is_default;
        }
        let info = VimInfo::from(&record);
        writes.push(Write::Update {
            record: record.into(),
            expected_version: current.version,
        });
        self.store.commit(tenant, writes).await?;
        Ok(info)
    }

    /// Removes a VIM that no VNF instance uses.
    pub async fn delete(&self, tenant: &TenantId, id: &str) -> Result<()> {
        let current = self.store.get_typed::<VimRecord>(tenant, id).await?;
        let users = self
            .store
            .list_typed::<VnfInstanceRecord>(tenant, &ListQuery::all())
            .await?
            .items
            .into_iter()
            .filter(|i| {
                i.value
                    .instance
                    .vim_connection_info
                    .values()
                    .any(|v| v.vim_id.as_deref() == Some(id))
            })
            .map(|i| i.value.instance.id)
            .collect::<Vec<_>>();
        if !users.is_empty() {
            return Err(Error::Conflict(format!(
                "VIM {id} is used by VNF instance(s) {}",
                users.join(", ")
            )));
        }
        self.store
            .commit(
                tenant,
                vec![Write::Delete {
                    kind: RecordKind::Vim,
                    id: id.to_owned(),
                    expected_version: Some(current.version),
                }],
            )
            .await
            .map(drop)
    }

    /// The VIM as drivers need it: `vimConnectionInfo` with the credentials opened.
    pub async fn connection_info(&self, tenant: &TenantId, id: &str) -> Result<VimConnectionInfo> {
        let record = self.store.get_typed::<VimRecord>(tenant, id).await?.value;
        Ok(VimConnectionInfo {
            vim_id: Some(record.id.clone()),
            vim_type: record.vim_type.clone(),
            interface_info: record.interface_info.clone(),
            access_info: self.open(tenant, &record)?,
            extra: record.extra.clone(),
        })
    }

    /// The tenant's default VIM as a `vimConnectionInfo` entry without credentials
    /// (what an instance records), keyed by the VIM's id.
    pub async fn default_vim(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<(String, VimConnectionInfo)>> {
        Ok(self.current_default(tenant).await?.map(|record| {
            let record = record.value;
            (
                record.id.clone(),
                VimConnectionInfo {
                    vim_id: Some(record.id),
                    vim_type: record.vim_type,
                    interface_info: record.interface_info,
                    access_info: KeyValuePairs::new(),
                    extra: record.extra,
                },
            )
        }))
    }
}
