//! `OpenStackInfraDriver`: deploys a VNF as one Heat stack built from the package's
//! `BaseHOT/<flavourId>/` templates.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::{Value, json};
use tacker_core::infra::{
    InfraCapabilities, InfraContext, InfraDriver, InfraOperation, InfraOutcome,
    InfraRequestContext, Rollback, ScaleTarget, VNFC_POWER_STATE, VnfResources, not_supported,
};
use tacker_core::lcm::OpRequest;
use tacker_core::model::{
    ChangeCurrentVnfPkgRequest, ChangeExtVnfConnectivityRequest, ChangeVnfFlavourRequest,
    ExtManagedVirtualLinkData, ExtVirtualLinkData, HealVnfRequest, InstantiateVnfRequest,
    KeyValuePairs, OperateVnfRequest, ResourceType, TerminateVnfRequest, TerminationType,
    VimConnectionInfo, VnfOperationalStateType,
};
use tacker_core::outbound::OutboundPolicy;
use tacker_core::package::PackageFiles;
use tacker_core::vnfd::{DeploymentFlavour, Vnfd};
use tacker_core::{Error, Result};

use crate::heat::{HeatClient, Settled, Stack, StackRef, StackTemplate};
use crate::keystone::{KeystoneConfig, KeystoneSession, SessionStats};
use crate::layout::{Layout, LayoutInputs, META_FLAVOUR, META_IMAGE, leaf_ids, read_layout};
use crate::nfv::{NfvInputs, nfv_parameter};
use crate::nova::NovaClient;
use crate::userdata::{
    Call, USER_DATA, USER_DATA_CLASS, UserDataClass, UserDataRunner, merge_patch,
};
use crate::{DRIVER, VIM_TYPE};

/// `VimConnectionInfo.extra` key: a Heat environment (`resource_registry`,
/// `parameter_defaults`, …) merged into every stack of the VIM.
pub const EXTRA_HEAT_ENVIRONMENT: &str = "heatEnvironment";
/// `VimConnectionInfo.extra` key: files (name → text) sent with every stack of the VIM,
/// e.g. the provider templates its `heatEnvironment` maps types to.
pub const EXTRA_HEAT_FILES: &str = "heatFiles";

/// Settings of the driver.
#[derive(Debug, Clone)]
pub struct OpenStackOptions {
    /// How long one operation may wait for Heat before it fails (retryable).
    pub operation_timeout: Duration,
    /// How deep nested stacks are read (2 covers a scaling group's members).
    pub nested_depth: u32,
    /// Whether Heat rolls a failed create or update back itself. Off by default: the
    /// VNFM's own retry and rollback then see what failed.
    pub heat_rollback: bool,
    /// Runs the user-data classes packages name (`lcm-operation-user-data`); without
    /// it, requests that name one are refused up front.
    pub user_data: Option<UserDataRunner>,
}

impl Default for OpenStackOptions {
    fn default() -> Self {
        Self {
            operation_timeout: Duration::from_secs(30 * 60),
            nested_depth: 2,
            heat_rollback: false,
            user_data: None,
        }
    }
}

/// The infra driver of `ETSINFV.OPENSTACK_KEYSTONE.V_3` VIMs: one Heat stack per VNF
/// instance, named `vnf-<vnfInstanceId>`.
///
/// Cheap to clone; clones share the Keystone sessions (one per VIM and credentials),
/// so a token is requested once per session, not once per call.
#[derive(Debug, Clone)]
pub struct OpenStackInfraDriver {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    options: OpenStackOptions,
    policy: Arc<OutboundPolicy>,
    sessions: Mutex<HashMap<String, Arc<KeystoneSession>>>,
    stats: Arc<SessionStats>,
    uploads: crate::glance::UploadLocks,
}

/// How long a retry waits for the resources of a failed stack to wind down before it
/// updates the stack anyway (see `quiesce`).
const QUIESCE_LIMIT: Duration = Duration::from_secs(60);

/// The name of the stack of a VNF instance.
pub fn stack_name(vnf_instance_id: &str) -> String {
    format!("vnf-{vnf_instance_id}")
}

fn session_key(vim: &VimConnectionInfo) -> String {
    json!([vim.interface_info, vim.access_info]).to_string()
}

/// What an operation deploys: the counts per VDU and the connectivity.
struct Deploy<'a> {
    flavour: &'a DeploymentFlavour,
    vnfd: &'a Vnfd,
    package: &'a dyn PackageFiles,
    counts: BTreeMap<String, u32>,
    ext_virtual_links: Vec<ExtVirtualLinkData>,
    ext_managed_virtual_links: Vec<ExtManagedVirtualLinkData>,
    /// Use the grant's VIM assets (not for rollbacks).
    use_grant: bool,
    /// The package's user-data class computes the stack instead of the driver.
    user_data: Option<UserDataSpec>,
    /// A rollback's step (back to the record), not the operation's forward work.
    rollback: bool,
}

/// A call of a user-data class for one operation.
struct UserDataSpec {
    class: UserDataClass,
    /// The method (`instantiate`, `scale`, `heal`).
    operation: &'static str,
    rollback: bool,
    /// The operation's request as the class reads it.
    request: Value,
}

impl Default for OpenStackInfraDriver {
    fn default() -> Self {
        Self::new(OpenStackOptions::default())
    }
}

impl OpenStackInfraDriver {
    /// A driver with `options`.
    pub fn new(options: OpenStackOptions) -> Self {
        Self {
            shared: Arc::new(Shared {
                options,
                policy: Arc::new(OutboundPolicy::default()),
                sessions: Mutex::new(HashMap::new()),
                stats: Arc::new(SessionStats::default()),
                uploads: crate::glance::UploadLocks::default(),
            }),
        }
    }

    /// The driver with `policy` for every request to the VIMs (Keystone, Heat, Nova;
    /// default [`OutboundPolicy::default`]). Call it before the driver is used: the
    /// sessions opened so far are dropped.
    pub fn outbound_policy(self, policy: OutboundPolicy) -> Self {
        Self {
            shared: Arc::new(Shared {
                options: self.shared.options.clone(),
                policy: Arc::new(policy),
                sessions: Mutex::new(HashMap::new()),
                stats: self.shared.stats.clone(),
                uploads: crate::glance::UploadLocks::default(),
            }),
        }
    }

    /// The settings.
    pub fn options(&self) -> &OpenStackOptions {
        &self.shared.options
    }

    /// Token and call counters of every session of this driver.
    pub fn stats(&self) -> &SessionStats {
        &self.shared.stats
    }

    /// The Keystone session of `vim`, opened on first use.
    pub fn session(&self, vim: &VimConnectionInfo) -> Result<Arc<KeystoneSession>> {
        let key = session_key(vim);
        let mut sessions = self
            .shared
            .sessions
            .lock()
            .map_err(|_| Error::Internal("the session table lock is poisoned".into()))?;
        if let Some(session) = sessions.get(&key) {
            return Ok(session.clone());
        }
        let config = KeystoneConfig::from_vim(vim)?;
        let session = Arc::new(KeystoneSession::with_policy(
            config,
            self.shared.stats.clone(),
            self.shared.policy.clone(),
        )?);
        sessions.insert(key, session.clone());
        Ok(session)
    }

    fn heat(&self, ctx: &InfraContext<'_>) -> Result<HeatClient> {
        if ctx.vim.vim_type != VIM_TYPE {
            return Err(Error::InvalidRequest(format!(
                "VIM {} is of type {}, which the OpenStack infra driver does not serve (it \
                 serves {VIM_TYPE})",
                ctx.vim_connection_id, ctx.vim.vim_type
            )));
        }
        Ok(HeatClient::new(self.session(ctx.vim)?))
    }

    fn deadline(&self) -> Instant {
        Instant::now() + self.shared.options.operation_timeout
    }

    fn timeout_mins(&self) -> u64 {
        self.shared
            .options
            .operation_timeout
            .as_secs()
            .div_ceil(60)
            .max(1)
    }

    /// The stack's tags: the instance and the operation that last converged it.
    /// The stack's tags for a step of the operation: its forward work and its rollback
    /// carry different ones, so that a rollback (same operation occurrence) does not take
    /// the stack its forward step converged for its own result.
    fn tags(ctx: &InfraContext<'_>, rollback: bool) -> String {
        format!(
            "vnf-{},{}",
            ctx.vnf_instance.id,
            Self::op_tag(ctx, rollback)
        )
    }

    fn op_tag(ctx: &InfraContext<'_>, rollback: bool) -> String {
        let kind = if rollback { "rollback" } else { "op" };
        format!("{kind}-{}", ctx.vnf_lcm_op_occ_id)
    }

    /// The top template, nested templates and the VIM's extra files and environment.
    async fn stack_template(
        &self,
        ctx: &InfraContext<'_>,
        deploy: &Deploy<'_>,
    ) -> Result<StackTemplate> {
        if let Some(spec) = &deploy.user_data {
            return self.user_data_template(ctx, deploy, spec).await;
        }
        let flavour_id = &deploy.flavour.id;
        let dir = format!("BaseHOT/{flavour_id}/");
        let paths = deploy.package.paths();
        let is_yaml = |p: &str| p.ends_with(".yaml") || p.ends_with(".yml");
        let tops: Vec<&String> = paths
            .iter()
            .filter(|p| p.starts_with(&dir) && !p[dir.len()..].contains('/') && is_yaml(p))
            .collect();
        let top = match tops.as_slice() {
            [one] => *one,
            [] => {
                return Err(Error::Unprocessable(format!(
                    "VNF package of VNFD {} has no Heat template for flavour {flavour_id}: \
                     expected one YAML file in {dir}",
                    deploy.vnfd.descriptor_id
                )));
            }
            many => {
                return Err(Error::Unprocessable(format!(
                    "VNF package of VNFD {} has {} top templates in {dir} ({}); expected one",
                    deploy.vnfd.descriptor_id,
                    many.len(),
                    many.iter()
                        .map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        };
        let text = |path: &str, bytes: Vec<u8>| {
            String::from_utf8(bytes).map_err(|_| {
                Error::Unprocessable(format!("{path} in the VNF package is not UTF-8 text"))
            })
        };
        let template = text(top, deploy.package.read(top).await?)?;
        let template = crate::ordering::subnets_first(&template).unwrap_or(template);
        let mut files = nested_files(deploy).await?;
        let (extra_files, environment) = vim_extras(ctx)?;
        files.extend(extra_files);
        let mut nfv = nfv_parameter(&NfvInputs {
            flavour: deploy.flavour,
            counts: &deploy.counts,
            grant: if deploy.use_grant { ctx.grant } else { None },
            grant_request: if deploy.use_grant {
                ctx.grant_request
            } else {
                None
            },
            ext_virtual_links: &deploy.ext_virtual_links,
            ext_managed_virtual_links: &deploy.ext_managed_virtual_links,
        });
        if !deploy.use_grant {
            // A rollback returns to the flavours and images the VNFCs had.
            for vnfc in recorded_vnfcs(ctx) {
                for key in [META_FLAVOUR, META_IMAGE] {
                    if let Some(value) = vnfc.metadata.get(key)
                        && let Some(entry) = nfv
                            .get_mut("VDU")
                            .and_then(|v| v.get_mut(&vnfc.vdu_id))
                            .and_then(Value::as_object_mut)
                    {
                        entry.insert(key.to_owned(), value.clone());
                    }
                }
            }
        }
        // A VDU the grant gives no zone keeps the zone its VNFCs are in, so that an
        // operation adding nothing to it does not move (replace) its servers.
        for vnfc in recorded_vnfcs(ctx) {
            if let Some(zone) = &vnfc.zone_id
                && let Some(entry) = nfv
                    .get_mut("VDU")
                    .and_then(|v| v.get_mut(&vnfc.vdu_id))
                    .and_then(Value::as_object_mut)
                && !entry.contains_key("locationConstraints")
            {
                entry.insert("locationConstraints".to_owned(), json!(zone));
            }
        }
        let mut parameters = KeyValuePairs::new();
        parameters.insert("nfv".into(), nfv);
        Ok(self.body(ctx, deploy, template, files, environment, parameters))
    }

    /// The stack the package's user-data class computes: for instantiate (and fields
    /// the class marks `existing: false`) its template, files and parameters as they
    /// are; for other operations merged (JSON merge patch) into the template and `nfv`
    /// the stack holds, as Tacker's driver does.
    async fn user_data_template(
        &self,
        ctx: &InfraContext<'_>,
        deploy: &Deploy<'_>,
        spec: &UserDataSpec,
    ) -> Result<StackTemplate> {
        let Some(runner) = &self.shared.options.user_data else {
            return Err(no_user_data(&spec.class));
        };
        let fields = runner
            .call(
                ctx,
                Call {
                    class: &spec.class,
                    operation: spec.operation,
                    rollback: spec.rollback,
                    request: spec.request.clone(),
                    package: deploy.package,
                },
            )
            .await?;
        let method = format!("{}.{}", spec.class.class, spec.operation);
        let mut parameters: KeyValuePairs = fields.parameters.into_iter().collect();
        let (template, nfv) = if spec.operation == "instantiate" || !fields.existing {
            let Some(template) = fields.template else {
                return Err(Error::driver(
                    DRIVER,
                    false,
                    format!("user-data class {method} returned no template"),
                ));
            };
            (
                template,
                parameters.remove("nfv").unwrap_or_else(|| json!({})),
            )
        } else {
            let heat = self.heat(ctx)?;
            let stack = self.existing(&heat, ctx).await?;
            let mut template = heat.template(&stack.reference()).await?;
            if let Some(patch) = &fields.template {
                merge_patch(&mut template, patch);
            }
            let mut nfv = stack_nfv(&stack).unwrap_or_else(|| json!({}));
            if let Some(patch) = parameters.remove("nfv") {
                merge_patch(&mut nfv, &patch);
            }
            (template, nfv)
        };
        parameters.insert("nfv".into(), nfv);
        let text = template.to_string();
        let template = crate::ordering::subnets_first(&text).unwrap_or(text);
        let mut files = nested_files(deploy).await?;
        let (extra_files, environment) = vim_extras(ctx)?;
        files.extend(fields.files);
        files.extend(extra_files);
        Ok(self.body(ctx, deploy, template, files, environment, parameters))
    }

    /// The stack's body for `deploy`: the driver's tags and timeouts around what it
    /// deploys.
    fn body(
        &self,
        ctx: &InfraContext<'_>,
        deploy: &Deploy<'_>,
        template: String,
        files: KeyValuePairs,
        environment: KeyValuePairs,
        parameters: KeyValuePairs,
    ) -> StackTemplate {
        StackTemplate {
            template,
            files,
            environment,
            parameters,
            tags: Self::tags(ctx, deploy.rollback),
            timeout_mins: self.timeout_mins(),
            disable_rollback: !self.shared.options.heat_rollback,
        }
    }

    /// Waits until no action runs on the stack; returns it as it then is (`None`:
    /// gone). The outcome of the action that ran is not judged here.
    async fn settle(
        &self,
        heat: &HeatClient,
        stack: Stack,
        deadline: Instant,
        ctx: &InfraContext<'_>,
    ) -> Result<Option<Stack>> {
        if !stack.in_progress() {
            return Ok(Some(stack));
        }
        let reference = stack.reference();
        let action = stack.action().to_owned();
        match heat.wait(&reference, &action, deadline, ctx.cancel).await {
            Ok(_) | Err(Error::Driver { .. }) => {}
            Err(other) => return Err(other),
        }
        heat.get_stack(&reference).await
    }

    /// Creates the stack, or brings an existing one to `template` (a retry, or an
    /// operation that changes templates); a stack this operation already converged is
    /// left as it is.
    async fn converge(
        &self,
        heat: &HeatClient,
        ctx: &InfraContext<'_>,
        template: &StackTemplate,
        recreate: bool,
        rollback: bool,
    ) -> Result<Stack> {
        let name = stack_name(&ctx.vnf_instance.id);
        let deadline = self.deadline();
        let mut existing = match heat.find_stack(&name).await? {
            Some(stack) => self.settle(heat, stack, deadline, ctx).await?,
            None => None,
        };
        if let Some(stack) = &existing {
            let done = stack.has_tag(&Self::op_tag(ctx, rollback))
                && matches!(
                    stack.stack_status.as_str(),
                    "CREATE_COMPLETE" | "UPDATE_COMPLETE"
                );
            if done {
                return Ok(stack.clone());
            }
            let unusable = stack.stack_status.starts_with("DELETE")
                || (stack.stack_status.starts_with("ROLLBACK") && stack.action() != "UPDATE")
                || recreate;
            if unusable {
                if stack.stack_status != "DELETE_COMPLETE" {
                    heat.delete_stack(&stack.reference()).await?;
                    heat.wait(&stack.reference(), "DELETE", deadline, ctx.cancel)
                        .await?;
                }
                existing = None;
            }
        }
        let (reference, action) = match existing {
            Some(stack) => {
                let reference = stack.reference();
                if stack.stack_status.ends_with("_FAILED") {
                    self.quiesce(heat, &stack, deadline, ctx).await?;
                }
                heat.replace_stack(&reference, template).await?;
                (reference, "UPDATE")
            }
            None => (
                self.create(heat, ctx, &name, template, deadline).await?,
                "CREATE",
            ),
        };
        let mut settled = heat.wait(&reference, action, deadline, ctx.cancel).await;
        if action == "UPDATE" && settled.is_err() {
            // Heat cancels a nested stack's update when something else of the stack was
            // still winding down from the failure being retried; nothing of the
            // template is wrong then, and the same update, sent again once the stack
            // is quiet, converges. Once: a real failure fails again and is reported.
            if let Some(stack) = heat.get_stack(&reference).await?
                && cancelled_by_heat(&stack)
            {
                tracing::info!(stack = %name, reason = ?stack.stack_status_reason, "update cancelled by Heat; sending it again");
                self.quiesce(heat, &stack, deadline, ctx).await?;
                heat.replace_stack(&reference, template).await?;
                settled = heat.wait(&reference, action, deadline, ctx.cancel).await;
            }
        }
        match settled? {
            Settled::Complete(stack) => Ok(stack),
            Settled::Gone => Err(Error::driver(
                DRIVER,
                true,
                format!("Heat stack {name} disappeared during {action}"),
            )),
        }
    }

    /// Waits until no resource of failed `stack` (nested ones included) is still in
    /// progress. Heat marks a stack failed as soon as one resource fails, while its
    /// other resources' actions wind down (nested stacks are cancelled one by one); an
    /// update sent before they have can be cancelled by them in turn. A resource that
    /// stays in progress (its engine died) does not block the retry for longer than
    /// [`QUIESCE_LIMIT`]: the update then goes ahead, and Heat takes the resource over.
    async fn quiesce(
        &self,
        heat: &HeatClient,
        stack: &Stack,
        deadline: Instant,
        ctx: &InfraContext<'_>,
    ) -> Result<()> {
        let reference = stack.reference();
        let until = deadline.min(Instant::now() + QUIESCE_LIMIT);
        let mut pause = Duration::from_millis(250);
        loop {
            let busy: Vec<String> = heat
                .resources(&reference, self.shared.options.nested_depth)
                .await?
                .into_iter()
                .filter(|r| r.resource_status.ends_with("_IN_PROGRESS"))
                .map(|r| format!("{} ({})", r.resource_name, r.resource_status))
                .collect();
            if busy.is_empty() {
                return Ok(());
            }
            if Instant::now() >= until {
                tracing::warn!(
                    stack = %reference.name,
                    busy = %busy.join(", "),
                    "resources of a failed stack still in progress; updating it anyway"
                );
                return Ok(());
            }
            let nap = pause.min(until.saturating_duration_since(Instant::now()));
            tokio::select! {
                () = ctx.cancel.cancelled() => {
                    return Err(Error::Cancelled(format!(
                        "cancelled while the resources of failed Heat stack {} wound down",
                        reference.name
                    )));
                }
                () = tokio::time::sleep(nap) => {}
            }
            pause = (pause * 3 / 2).min(Duration::from_secs(2));
        }
    }

    /// Creates stack `name`. Heat keeps the name of a stack it has just deleted for a
    /// moment (`409 StackExists`); the create is then tried again until the deadline.
    async fn create(
        &self,
        heat: &HeatClient,
        ctx: &InfraContext<'_>,
        name: &str,
        template: &StackTemplate,
        deadline: Instant,
    ) -> Result<StackRef> {
        let mut pause = Duration::from_millis(250);
        loop {
            match heat.create_stack(name, template).await {
                Err(error)
                    if error.to_string().contains("StackExists") && Instant::now() < deadline =>
                {
                    if let Some(stack) = heat.find_stack(name).await?
                        && stack.stack_status != "DELETE_COMPLETE"
                    {
                        // Someone else's create: not ours to take over.
                        return Err(error);
                    }
                    tokio::select! {
                        () = ctx.cancel.cancelled() => {
                            return Err(Error::Cancelled(format!(
                                "cancelled while waiting to create Heat stack {name}"
                            )));
                        }
                        () = tokio::time::sleep(pause) => {}
                    }
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                other => return other,
            }
        }
    }

    /// The instance's stack, settled; `NotFound`-like error when there is none.
    async fn existing(&self, heat: &HeatClient, ctx: &InfraContext<'_>) -> Result<Stack> {
        let name = stack_name(&ctx.vnf_instance.id);
        let deadline = self.deadline();
        let stack = match heat.find_stack(&name).await? {
            Some(stack) => self.settle(heat, stack, deadline, ctx).await?,
            None => None,
        };
        match stack {
            Some(stack) if stack.stack_status != "DELETE_COMPLETE" => Ok(stack),
            _ => Err(Error::driver(
                DRIVER,
                false,
                format!(
                    "VNF instance {} has no Heat stack {name} in VIM {}",
                    ctx.vnf_instance.id, ctx.vim_connection_id
                ),
            )),
        }
    }

    /// Updates the stack with new parameters (or none: re-converge after marking
    /// resources unhealthy) and waits for it.
    async fn patch(
        &self,
        heat: &HeatClient,
        ctx: &InfraContext<'_>,
        stack: &Stack,
        parameters: &KeyValuePairs,
        rollback: bool,
    ) -> Result<Stack> {
        let reference = stack.reference();
        heat.patch_stack(
            &reference,
            parameters,
            &Self::tags(ctx, rollback),
            self.timeout_mins(),
        )
        .await?;
        match heat
            .wait(&reference, "UPDATE", self.deadline(), ctx.cancel)
            .await?
        {
            Settled::Complete(stack) => Ok(stack),
            Settled::Gone => Err(Error::driver(
                DRIVER,
                true,
                format!("Heat stack {} disappeared during an update", reference.name),
            )),
        }
    }

    async fn layout(
        &self,
        heat: &HeatClient,
        ctx: &InfraContext<'_>,
        stack: &Stack,
        deploy: &Deploy<'_>,
        power_states: &BTreeMap<String, String>,
    ) -> Result<Layout> {
        let reference = stack.reference();
        let resources = heat
            .resources(&reference, self.shared.options.nested_depth)
            .await?;
        let nfv = stack_nfv(stack);
        Ok(read_layout(
            &resources,
            &LayoutInputs {
                stack: &reference,
                flavour: deploy.flavour,
                vim_connection_id: ctx.vim_connection_id,
                recorded: ctx.vnf_instance.instantiated_vnf_info.as_ref(),
                ext_virtual_links: &deploy.ext_virtual_links,
                ext_managed_virtual_links: &deploy.ext_managed_virtual_links,
                nfv: nfv.as_ref(),
                power_states,
            },
        ))
    }

    fn outcome(
        ctx: &InfraContext<'_>,
        stack: &Stack,
        layout: Layout,
        ext_changed: bool,
        class: Option<&UserDataClass>,
    ) -> InfraOutcome {
        let recorded = UserDataClass::recorded(ctx.vnf_instance).ok().flatten();
        let class = class.cloned().or(recorded);
        let changed_ext_connectivity = if ext_changed {
            layout.resources.ext_virtual_link_info.clone()
        } else {
            Vec::new()
        };
        let mut metadata = KeyValuePairs::new();
        metadata.insert("stackId".into(), json!(stack.id));
        metadata.insert("stackName".into(), json!(stack.stack_name));
        if let Some(class) = &class {
            // Later operations call the same class, which reads the `nfv` it made.
            metadata.extend(class.metadata());
            if let Some(nfv) = stack_nfv(stack) {
                metadata.insert("nfv".into(), nfv);
            }
        } else if ctx.vnf_instance.metadata.contains_key(USER_DATA) {
            // An instantiation without a class after one with: forget it.
            for key in [USER_DATA, USER_DATA_CLASS, "nfv"] {
                metadata.insert(key.into(), Value::Null);
            }
        }
        InfraOutcome::from_resources(ctx.recorded(), layout.resources)
            .with_changed_ext_connectivity(changed_ext_connectivity)
            .with_metadata(metadata)
    }

    /// Converges the stack to `deploy` with a full template update and reports it.
    async fn deploy(
        &self,
        ctx: &InfraContext<'_>,
        deploy: &Deploy<'_>,
        recreate: bool,
        ext_changed: bool,
    ) -> Result<InfraOutcome> {
        let heat = self.heat(ctx)?;
        if deploy.use_grant {
            self.ensure_images(ctx, deploy).await?;
        }
        let template = self.stack_template(ctx, deploy).await?;
        let stack = self
            .converge(&heat, ctx, &template, recreate, deploy.rollback)
            .await?;
        let layout = self
            .layout(&heat, ctx, &stack, deploy, &recorded_power_states(ctx))
            .await?;
        let class = deploy.user_data.as_ref().map(|spec| &spec.class);
        Ok(Self::outcome(ctx, &stack, layout, ext_changed, class))
    }

    /// The software images `deploy` names by name, in Glance (uploaded from the
    /// package when the VIM lacks them; see [`crate::glance`]).
    async fn ensure_images(&self, ctx: &InfraContext<'_>, deploy: &Deploy<'_>) -> Result<()> {
        let granted = |desc: &str| {
            ctx.grant
                .and_then(|g| g.vim_assets.as_ref())
                .is_some_and(|assets| {
                    assets
                        .software_images
                        .iter()
                        .any(|i| i.vnfd_software_image_id == desc)
                })
        };
        let session = self.session(ctx.vim)?;
        crate::glance::ensure_images(&crate::glance::Images {
            glance: crate::glance::GlanceClient::new(session),
            locks: &self.shared.uploads,
            vim_key: &session_key(ctx.vim),
            vnfd: deploy.vnfd,
            flavour: deploy.flavour,
            package: deploy.package,
            granted: &granted,
            deadline: self.deadline(),
            cancel: ctx.cancel,
        })
        .await
    }

    /// The deployment of the instance as recorded.
    fn recorded_deploy<'a>(&self, ctx: &'a InfraContext<'a>) -> Deploy<'a> {
        Deploy {
            flavour: ctx.flavour,
            vnfd: ctx.vnfd,
            package: ctx.package,
            counts: recorded_counts(ctx, ctx.flavour),
            ext_virtual_links: recorded_ext_links(ctx),
            ext_managed_virtual_links: recorded_ext_managed(ctx),
            use_grant: false,
            user_data: None,
            rollback: false,
        }
    }

    /// Returns the stack to the instance as recorded (the rollback of a change of
    /// flavour, external connectivity or package).
    async fn restore(&self, ctx: &InfraContext<'_>, ext_changed: bool) -> Result<InfraOutcome> {
        let deploy = Deploy {
            rollback: true,
            ..self.recorded_deploy(ctx)
        };
        self.deploy(ctx, &deploy, false, ext_changed).await
    }

    /// A scale (or its rollback) by the instance's user-data class: the class's
    /// template and `nfv` merged into the stack's.
    async fn scale_by_class(
        &self,
        ctx: &InfraContext<'_>,
        target: &ScaleTarget,
        class: UserDataClass,
        rollback: bool,
    ) -> Result<InfraOutcome> {
        let Some(scale_type) = target.scale_type else {
            return Err(unsupported_with_class(&class, "a scale to a level"));
        };
        let recorded = recorded_levels(ctx);
        let (aspect, steps) = target
            .scale_levels
            .first()
            .map(|info| {
                let before = recorded.get(&info.aspect_id).copied().unwrap_or_default();
                (info.aspect_id.clone(), info.scale_level.abs_diff(before))
            })
            .unwrap_or_default();
        let request = json!({
            "type": scale_type,
            "aspectId": aspect,
            "numberOfSteps": steps,
            "additionalParams": target.additional_params,
        });
        let mut levels = recorded;
        if !rollback {
            for info in &target.scale_levels {
                levels.insert(info.aspect_id.clone(), info.scale_level);
            }
        }
        let deploy = Deploy {
            counts: scaled_counts(ctx, &levels),
            use_grant: !rollback,
            rollback,
            user_data: Some(UserDataSpec {
                class,
                operation: "scale",
                rollback,
                request,
            }),
            ..self.recorded_deploy(ctx)
        };
        self.deploy(ctx, &deploy, false, false).await
    }

    /// Brings the scale levels of `target` about: scale-in first marks the VNFCs to
    /// remove so that Heat removes them: those the grant request removes (the VNFCs the
    /// NFVO approved and the management hooks prepared for), then those not recorded,
    /// then the newest.
    async fn scale_to(
        &self,
        ctx: &InfraContext<'_>,
        levels: &BTreeMap<String, u32>,
        use_grant: bool,
    ) -> Result<InfraOutcome> {
        let heat = self.heat(ctx)?;
        let mut deploy = self.recorded_deploy(ctx);
        deploy.use_grant = use_grant;
        deploy.rollback = !use_grant;
        deploy.counts = scaled_counts(ctx, levels);
        let stack = self.existing(&heat, ctx).await?;
        let power = recorded_power_states(ctx);
        let before = self.layout(&heat, ctx, &stack, &deploy, &power).await?;
        let recorded: Vec<&str> = recorded_vnfcs(ctx).iter().map(|v| v.id.as_str()).collect();
        let granted: Vec<&str> = if use_grant {
            ctx.grant_request
                .map(|g| {
                    g.remove_resources
                        .iter()
                        .filter(|r| r.resource_type == ResourceType::Compute)
                        .filter_map(|r| r.resource.as_ref())
                        .map(|h| h.resource_id.as_str())
                        .collect()
                })
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        for (vdu, wanted) in &deploy.counts {
            let mut of_vdu: Vec<_> = before
                .vnfcs
                .values()
                .filter(|v| &v.info.vdu_id == vdu)
                .collect();
            let excess = of_vdu.len().saturating_sub(*wanted as usize);
            if excess == 0 {
                continue;
            }
            // Granted first, then unrecorded, then the newest.
            of_vdu.sort_by(|a, b| {
                let key = |v: &&crate::layout::FoundVnfc| {
                    (
                        !granted.contains(&v.info.compute_resource.resource_id.as_str()),
                        recorded.contains(&v.info.id.as_str()),
                    )
                };
                key(a)
                    .cmp(&key(b))
                    .then(creation(&b.info.metadata).cmp(&creation(&a.info.metadata)))
                    .then(b.info.id.cmp(&a.info.id))
            });
            for victim in of_vdu.into_iter().take(excess) {
                heat.mark_unhealthy(
                    &victim.heal_target.stack,
                    &victim.heal_target.resource,
                    &format!("scale in by VNF LCM operation {}", ctx.vnf_lcm_op_occ_id),
                )
                .await?;
            }
        }
        let current_counts: BTreeMap<String, u32> =
            before.vnfcs.values().fold(BTreeMap::new(), |mut m, v| {
                *m.entry(v.info.vdu_id.clone()).or_insert(0) += 1;
                m
            });
        let mut wanted = deploy.counts.clone();
        wanted.retain(|_, n| *n > 0);
        let stack = if current_counts == wanted && !stack.stack_status.ends_with("FAILED") {
            stack
        } else {
            let template = self.stack_template(ctx, &deploy).await?;
            let mut parameters = KeyValuePairs::new();
            if let Some(nfv) = template.parameters.get("nfv") {
                parameters.insert("nfv".into(), nfv.clone());
            }
            self.patch(&heat, ctx, &stack, &parameters, deploy.rollback)
                .await?
        };
        let layout = self.layout(&heat, ctx, &stack, &deploy, &power).await?;
        Ok(Self::outcome(ctx, &stack, layout, false, None))
    }
}

/// The package's nested templates of the deployed flavour (`BaseHOT/<flavour>/nested/`).
async fn nested_files(deploy: &Deploy<'_>) -> Result<KeyValuePairs> {
    let nested_dir = format!("BaseHOT/{}/nested/", deploy.flavour.id);
    let mut files = KeyValuePairs::new();
    for path in deploy
        .package
        .paths()
        .iter()
        .filter(|p| p.starts_with(&nested_dir))
    {
        let text = String::from_utf8(deploy.package.read(path).await?).map_err(|_| {
            Error::Unprocessable(format!("{path} in the VNF package is not UTF-8 text"))
        })?;
        files.insert(path[nested_dir.len()..].to_owned(), json!(text));
    }
    Ok(files)
}

/// The VIM's extra files and Heat environment (`vimConnectionInfo.extra`).
fn vim_extras(ctx: &InfraContext<'_>) -> Result<(KeyValuePairs, KeyValuePairs)> {
    let mut files = KeyValuePairs::new();
    let mut environment = KeyValuePairs::new();
    match ctx.vim.extra.get(EXTRA_HEAT_ENVIRONMENT) {
        None | Some(Value::Null) => {}
        Some(Value::Object(env)) => {
            environment.extend(env.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        Some(_) => {
            return Err(Error::InvalidRequest(format!(
                "vimConnectionInfo.extra.{EXTRA_HEAT_ENVIRONMENT} of VIM {} must be an \
                 object (a Heat environment)",
                ctx.vim_connection_id
            )));
        }
    }
    match ctx.vim.extra.get(EXTRA_HEAT_FILES) {
        None | Some(Value::Null) => {}
        Some(Value::Object(extra)) => {
            for (name, content) in extra {
                let Some(content) = content.as_str() else {
                    return Err(Error::InvalidRequest(format!(
                        "vimConnectionInfo.extra.{EXTRA_HEAT_FILES}.{name} of VIM {} must \
                         be the file's text",
                        ctx.vim_connection_id
                    )));
                };
                files.insert(name.clone(), json!(content));
            }
        }
        Some(_) => {
            return Err(Error::InvalidRequest(format!(
                "vimConnectionInfo.extra.{EXTRA_HEAT_FILES} of VIM {} must be an object of \
                 file names to texts",
                ctx.vim_connection_id
            )));
        }
    }
    Ok((files, environment))
}

/// Whether `stack` failed only because Heat cancelled part of it (`Stack UPDATE
/// cancelled` of a nested stack), not because a resource failed on its own.
fn cancelled_by_heat(stack: &Stack) -> bool {
    stack.stack_status == "UPDATE_FAILED"
        && stack
            .stack_status_reason
            .as_deref()
            .is_some_and(|reason| reason.contains(" cancelled") && !reason.contains("Timed out"))
}

/// The refusal of a class when the driver runs none.
fn no_user_data(class: &UserDataClass) -> Error {
    Error::Unprocessable(format!(
        "the request names user-data class {} ({}), but this VNFM runs no user-data \
         classes: its operator has not configured the sandbox's Python for them",
        class.class, class.path
    ))
}

fn unsupported_with_class(class: &UserDataClass, what: &str) -> Error {
    Error::Unprocessable(format!(
        "{what} is not supported for a VNF whose stack user-data class {} computes; \
         instantiate, scale, heal of VNFCs, change of package and terminate are",
        class.class
    ))
}

/// Refuses `what` for an instance (or a request) with a user-data class.
fn refuse_class(ctx: &InfraContext<'_>, params: &KeyValuePairs, what: &str) -> Result<()> {
    match UserDataClass::of(ctx.vnf_instance, params, "additionalParams")? {
        Some(class) => Err(unsupported_with_class(&class, what)),
        None => Ok(()),
    }
}

fn creation(metadata: &KeyValuePairs) -> String {
    metadata
        .get(crate::layout::META_CREATION_TIME)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The `nfv` parameter as the stack holds it (Heat returns JSON parameters as text).
fn stack_nfv(stack: &Stack) -> Option<Value> {
    match stack.parameters.get("nfv")? {
        Value::String(text) => serde_json::from_str(text).ok(),
        other => Some(other.clone()),
    }
}

fn recorded_vnfcs<'a>(ctx: &'a InfraContext<'a>) -> &'a [tacker_core::model::VnfcResourceInfo] {
    ctx.vnf_instance
        .instantiated_vnf_info
        .as_ref()
        .map(|i| i.vnfc_resource_info.as_slice())
        .unwrap_or_default()
}

fn recorded_power_states(ctx: &InfraContext<'_>) -> BTreeMap<String, String> {
    recorded_vnfcs(ctx)
        .iter()
        .filter_map(|v| {
            v.metadata
                .get(VNFC_POWER_STATE)
                .and_then(Value::as_str)
                .map(|s| (v.id.clone(), s.to_owned()))
        })
        .collect()
}

/// The scale level of every aspect of the flavour as recorded (0 when not recorded).
fn recorded_levels(ctx: &InfraContext<'_>) -> BTreeMap<String, u32> {
    let mut levels: BTreeMap<String, u32> = ctx
        .flavour
        .scaling_aspects
        .iter()
        .map(|aspect| (aspect.id.clone(), 0))
        .collect();
    if let Some(info) = &ctx.vnf_instance.instantiated_vnf_info {
        for status in &info.scale_status {
            levels.insert(status.aspect_id.clone(), status.scale_level);
        }
    }
    levels
}

/// VNFCs per VDU of `flavour` as recorded; VDUs without a recorded VNFC (a flavour or
/// package the instance is not on yet) get what the recorded scale levels give.
fn recorded_counts(ctx: &InfraContext<'_>, flavour: &DeploymentFlavour) -> BTreeMap<String, u32> {
    let Some(info) = &ctx.vnf_instance.instantiated_vnf_info else {
        return counts_at_levels(flavour, &recorded_levels(ctx));
    };
    let levels = recorded_levels(ctx);
    flavour
        .vdus
        .iter()
        .map(|vdu| {
            let recorded = info
                .vnfc_resource_info
                .iter()
                .filter(|v| v.vdu_id == vdu.id)
                .count();
            let count = match u32::try_from(recorded) {
                Ok(0) | Err(_) => flavour.vdu_instances(vdu, &levels),
                Ok(n) => n,
            };
            (vdu.id.clone(), count)
        })
        .collect()
}

/// VNFCs per VDU after moving the aspects from the recorded levels to `target`: the
/// recorded counts plus (or minus) the aspects' deltas, within the VDUs' bounds.
fn scaled_counts(ctx: &InfraContext<'_>, target: &BTreeMap<String, u32>) -> BTreeMap<String, u32> {
    let flavour = ctx.flavour;
    let current = recorded_levels(ctx);
    let mut counts = recorded_counts(ctx, flavour);
    for vdu in &flavour.vdus {
        let mut count = i64::from(counts.get(&vdu.id).copied().unwrap_or(0));
        for aspect in &flavour.scaling_aspects {
            let from = current.get(&aspect.id).copied().unwrap_or(0);
            let to = target.get(&aspect.id).copied().unwrap_or(from);
            count += i64::from(aspect.instances_added(&vdu.id, to))
                - i64::from(aspect.instances_added(&vdu.id, from));
        }
        let bounded = count.clamp(
            i64::from(vdu.min_instances),
            i64::from(vdu.max_instances.max(vdu.min_instances)),
        );
        counts.insert(vdu.id.clone(), u32::try_from(bounded).unwrap_or(0));
    }
    counts
}

fn counts_at_levels(
    flavour: &DeploymentFlavour,
    levels: &BTreeMap<String, u32>,
) -> BTreeMap<String, u32> {
    flavour
        .vdus
        .iter()
        .map(|vdu| (vdu.id.clone(), flavour.vdu_instances(vdu, levels)))
        .collect()
}

fn counts_at_level(flavour: &DeploymentFlavour, level: Option<&str>) -> BTreeMap<String, u32> {
    flavour
        .vdus
        .iter()
        .map(|vdu| (vdu.id.clone(), flavour.vdu_instances_at_level(vdu, level)))
        .collect()
}

fn recorded_ext_links(ctx: &InfraContext<'_>) -> Vec<ExtVirtualLinkData> {
    ctx.vnf_instance
        .instantiated_vnf_info
        .as_ref()
        .map(|info| {
            info.ext_virtual_link_info
                .iter()
                .map(|l| l.to_data())
                .collect()
        })
        .unwrap_or_default()
}

fn recorded_ext_managed(ctx: &InfraContext<'_>) -> Vec<ExtManagedVirtualLinkData> {
    ctx.vnf_instance
        .instantiated_vnf_info
        .as_ref()
        .map(|info| {
            info.ext_managed_virtual_link_info
                .iter()
                .map(|l| l.to_data())
                .collect()
        })
        .unwrap_or_default()
}

/// What a change of flavour or package deploys: `target` (flavour, VNFD, package) with
/// `counts`, the recorded external links updated by `ext_links`, and `managed` (or the
/// recorded managed links when it is empty).
fn changed_deploy<'a>(
    ctx: &InfraContext<'_>,
    target: (&'a DeploymentFlavour, &'a Vnfd, &'a dyn PackageFiles),
    counts: BTreeMap<String, u32>,
    ext_links: &[ExtVirtualLinkData],
    managed: &[ExtManagedVirtualLinkData],
) -> Deploy<'a> {
    let (flavour, vnfd, package) = target;
    Deploy {
        flavour,
        vnfd,
        package,
        counts,
        ext_virtual_links: merged_ext_links(recorded_ext_links(ctx), ext_links),
        ext_managed_virtual_links: if managed.is_empty() {
            recorded_ext_managed(ctx)
        } else {
            managed.to_vec()
        },
        use_grant: true,
        user_data: None,
        rollback: false,
    }
}

/// External links after a change: the recorded ones with those of `changes` replacing
/// the links of the same id.
fn merged_ext_links(
    recorded: Vec<ExtVirtualLinkData>,
    changes: &[ExtVirtualLinkData],
) -> Vec<ExtVirtualLinkData> {
    let mut links = recorded;
    for change in changes {
        match links.iter_mut().find(|l| l.id == change.id) {
            Some(link) => *link = change.clone(),
            None => links.push(change.clone()),
        }
    }
    links
}

#[async_trait]
impl InfraDriver for OpenStackInfraDriver {
    fn vim_type(&self) -> &str {
        VIM_TYPE
    }

    async fn validate_request(
        &self,
        ctx: &InfraRequestContext<'_>,
        request: &OpRequest,
    ) -> Result<()> {
        let named = |params: &KeyValuePairs| {
            UserDataClass::of(ctx.vnf_instance, params, "additionalParams")
        };
        let (class, refused) = match request {
            OpRequest::Instantiate(r) => (
                UserDataClass::from_params(&r.additional_params, "additionalParams")?,
                None,
            ),
            OpRequest::Scale(r) => (named(&r.additional_params)?, None),
            OpRequest::ScaleToLevel(r) => {
                (named(&r.additional_params)?, Some("a scale to a level"))
            }
            OpRequest::Heal(r) => (
                named(&r.additional_params)?,
                r.vnfc_instance_id
                    .is_empty()
                    .then_some("a heal of the whole VNF"),
            ),
            OpRequest::ChangeFlavour(r) => {
                (named(&r.additional_params)?, Some("a change of flavour"))
            }
            OpRequest::ChangeExtConn(r) => (
                named(&r.additional_params)?,
                Some("a change of external connectivity"),
            ),
            OpRequest::ChangeVnfpkg(r) => (named(&r.additional_params)?, None),
            _ => (None, None),
        };
        let Some(class) = class else {
            return Ok(());
        };
        if let Some(what) = refused {
            return Err(unsupported_with_class(&class, what));
        }
        if self.shared.options.user_data.is_none() {
            return Err(no_user_data(&class));
        }
        if !ctx.package.paths().contains(&class.package_path()) {
            return Err(Error::Unprocessable(format!(
                "the VNF package has no {} (additionalParams.lcm-operation-user-data)",
                class.path
            )));
        }
        Ok(())
    }

    fn capabilities(&self) -> InfraCapabilities {
        CAPABILITIES
    }

    async fn instantiate(
        &self,
        ctx: &InfraContext<'_>,
        request: &InstantiateVnfRequest,
    ) -> Result<InfraOutcome> {
        let deploy = Deploy {
            flavour: ctx.flavour,
            vnfd: ctx.vnfd,
            package: ctx.package,
            counts: counts_at_level(ctx.flavour, request.instantiation_level_id.as_deref()),
            ext_virtual_links: request.ext_virtual_links.clone(),
            ext_managed_virtual_links: request.ext_managed_virtual_links.clone(),
            use_grant: true,
            user_data: UserDataClass::from_params(&request.additional_params, "additionalParams")?
                .map(|class| UserDataSpec {
                    class,
                    operation: "instantiate",
                    rollback: false,
                    request: serde_json::to_value(request).unwrap_or_default(),
                }),
            rollback: false,
        };
        self.deploy(ctx, &deploy, false, false).await
    }

    async fn terminate(
        &self,
        ctx: &InfraContext<'_>,
        request: &TerminateVnfRequest,
    ) -> Result<InfraOutcome> {
        if request.termination_type == TerminationType::Graceful
            && let Some(seconds) = request.graceful_termination_timeout
            && seconds > 0
        {
            let heat = self.heat(ctx)?;
            // Wait only when there is something to stop gracefully.
            if heat
                .find_stack(&stack_name(&ctx.vnf_instance.id))
                .await?
                .is_some_and(|s| s.stack_status != "DELETE_COMPLETE")
            {
                tokio::select! {
                    () = ctx.cancel.cancelled() => {
                        return Err(Error::Cancelled("cancelled during the graceful termination wait".into()));
                    }
                    () = tokio::time::sleep(Duration::from_secs(seconds)) => {}
                }
            }
        }
        self.remove_stack(ctx).await
    }

    async fn scale(&self, ctx: &InfraContext<'_>, target: &ScaleTarget) -> Result<InfraOutcome> {
        if let Some(class) = UserDataClass::of(
            ctx.vnf_instance,
            &target.additional_params,
            "additionalParams",
        )? {
            return self.scale_by_class(ctx, target, class, false).await;
        }
        let mut levels = recorded_levels(ctx);
        for info in &target.scale_levels {
            levels.insert(info.aspect_id.clone(), info.scale_level);
        }
        self.scale_to(ctx, &levels, true).await
    }

    async fn heal(&self, ctx: &InfraContext<'_>, request: &HealVnfRequest) -> Result<InfraOutcome> {
        let heat = self.heat(ctx)?;
        let recorded = recorded_vnfcs(ctx);
        for id in &request.vnfc_instance_id {
            if !recorded.iter().any(|v| &v.id == id) {
                return Err(Error::Unprocessable(format!(
                    "VNF instance {} has no VNFC {id}",
                    ctx.vnf_instance.id
                )));
            }
        }
        let deploy = self.recorded_deploy(ctx);
        let class = UserDataClass::of(
            ctx.vnf_instance,
            &request.additional_params,
            "additionalParams",
        )?;
        if request.vnfc_instance_id.is_empty() {
            if let Some(class) = &class {
                return Err(unsupported_with_class(class, "a heal of the whole VNF"));
            }
            // The whole VNF: a new stack, unless this operation made it already.
            return self.deploy(ctx, &deploy, true, false).await;
        }
        let with_storage = request
            .additional_params
            .get("all")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let stack = self.existing(&heat, ctx).await?;
        let power = recorded_power_states(ctx);
        let before = self.layout(&heat, ctx, &stack, &deploy, &power).await?;
        let mut marked = false;
        for id in &request.vnfc_instance_id {
            let Some(recorded) = recorded.iter().find(|v| &v.id == id) else {
                continue;
            };
            let Some(found) = before.vnfcs.get(id) else {
                // Gone from the stack: the update below re-creates it.
                marked = true;
                continue;
            };
            if found.info.compute_resource.resource_id != recorded.compute_resource.resource_id {
                continue; // replaced by an earlier attempt of this operation
            }
            let reason = format!(
                "heal of VNFC {id} by VNF LCM operation {}{}",
                ctx.vnf_lcm_op_occ_id,
                request
                    .cause
                    .as_deref()
                    .map(|c| format!(": {c}"))
                    .unwrap_or_default()
            );
            heat.mark_unhealthy(
                &found.heal_target.stack,
                &found.heal_target.resource,
                &reason,
            )
            .await?;
            if with_storage {
                for volume in &found.volumes {
                    heat.mark_unhealthy(&volume.stack, &volume.resource, &reason)
                        .await?;
                }
            }
            marked = true;
        }
        let stack = if marked || stack.stack_status.ends_with("FAILED") {
            let parameters = match &class {
                Some(class) => {
                    let spec = UserDataSpec {
                        class: class.clone(),
                        operation: "heal",
                        rollback: false,
                        request: serde_json::to_value(request).unwrap_or_default(),
                    };
                    let deploy = Deploy {
                        use_grant: true,
                        user_data: Some(spec),
                        ..self.recorded_deploy(ctx)
                    };
                    let mut template = self.stack_template(ctx, &deploy).await?;
                    let mut parameters = KeyValuePairs::new();
                    if let Some(nfv) = template.parameters.remove("nfv") {
                        parameters.insert("nfv".into(), nfv);
                    }
                    parameters
                }
                None => KeyValuePairs::new(),
            };
            self.patch(&heat, ctx, &stack, &parameters, false).await?
        } else {
            stack
        };
        let layout = self.layout(&heat, ctx, &stack, &deploy, &power).await?;
        Ok(Self::outcome(ctx, &stack, layout, false, None))
    }

    async fn change_flavour(
        &self,
        ctx: &InfraContext<'_>,
        request: &ChangeVnfFlavourRequest,
    ) -> Result<InfraOutcome> {
        refuse_class(ctx, &request.additional_params, "a change of flavour")?;
        let flavour = ctx.vnfd.flavour(&request.new_flavour_id).ok_or_else(|| {
            Error::Unprocessable(format!(
                "VNFD {} has no flavour {}",
                ctx.vnfd.descriptor_id, request.new_flavour_id
            ))
        })?;
        let deploy = changed_deploy(
            ctx,
            (flavour, ctx.vnfd, ctx.package),
            counts_at_level(flavour, request.instantiation_level_id.as_deref()),
            &request.ext_virtual_links,
            &request.ext_managed_virtual_links,
        );
        self.deploy(ctx, &deploy, false, !request.ext_virtual_links.is_empty())
            .await
    }

    async fn change_ext_conn(
        &self,
        ctx: &InfraContext<'_>,
        request: &ChangeExtVnfConnectivityRequest,
    ) -> Result<InfraOutcome> {
        refuse_class(
            ctx,
            &request.additional_params,
            "a change of external connectivity",
        )?;
        let mut deploy = self.recorded_deploy(ctx);
        deploy.ext_virtual_links =
            merged_ext_links(recorded_ext_links(ctx), &request.ext_virtual_links);
        deploy.use_grant = true;
        self.deploy(ctx, &deploy, false, true).await
    }

    async fn change_vnfpkg(
        &self,
        ctx: &InfraContext<'_>,
        request: &ChangeCurrentVnfPkgRequest,
        new_vnfd: &Vnfd,
        new_package: &dyn PackageFiles,
    ) -> Result<InfraOutcome> {
        let class = UserDataClass::of(
            ctx.vnf_instance,
            &request.additional_params,
            "additionalParams",
        )?;
        let flavour = new_vnfd.flavour(&ctx.flavour.id).ok_or_else(|| {
            Error::Unprocessable(format!(
                "the new VNFD {} has no flavour {}, which the instance uses",
                new_vnfd.descriptor_id, ctx.flavour.id
            ))
        })?;
        let mut deploy = changed_deploy(
            ctx,
            (flavour, new_vnfd, new_package),
            recorded_counts(ctx, flavour),
            &request.ext_virtual_links,
            &request.ext_managed_virtual_links,
        );
        // The class of the new package computes the whole stack (Tacker's
        // `change_vnfpkg` answers `existing: false`).
        deploy.user_data = class.map(|class| UserDataSpec {
            class,
            operation: "change_vnfpkg",
            rollback: false,
            request: serde_json::to_value(request).unwrap_or_default(),
        });
        self.deploy(ctx, &deploy, false, !request.ext_virtual_links.is_empty())
            .await
    }

    async fn operate(
        &self,
        ctx: &InfraContext<'_>,
        request: &OperateVnfRequest,
    ) -> Result<InfraOutcome> {
        let heat = self.heat(ctx)?;
        let deploy = self.recorded_deploy(ctx);
        let stack = self.existing(&heat, ctx).await?;
        let power = recorded_power_states(ctx);
        let layout = self.layout(&heat, ctx, &stack, &deploy, &power).await?;
        let nova = NovaClient::new(heat.session().clone());
        let start = request.change_state_to == VnfOperationalStateType::Started;
        let deadline = self.deadline();
        let mut states = power;
        for vnfc in layout.vnfcs.values() {
            let server = &vnfc.info.compute_resource.resource_id;
            nova.set_power(server, start, deadline, ctx.cancel).await?;
            states.insert(
                vnfc.info.id.clone(),
                if start { "STARTED" } else { "STOPPED" }.to_owned(),
            );
        }
        let layout = self.layout(&heat, ctx, &stack, &deploy, &states).await?;
        Ok(Self::outcome(ctx, &stack, layout, false, None))
    }

    async fn rollback(
        &self,
        ctx: &InfraContext<'_>,
        rollback: &Rollback<'_>,
    ) -> Result<InfraOutcome> {
        match rollback {
            Rollback::Instantiate(_) => self.remove_stack(ctx).await,
            Rollback::Scale(target) => {
                match UserDataClass::of(
                    ctx.vnf_instance,
                    &target.additional_params,
                    "additionalParams",
                )? {
                    Some(class) => self.scale_by_class(ctx, target, class, true).await,
                    None => self.scale_to(ctx, &recorded_levels(ctx), false).await,
                }
            }
            Rollback::ChangeVnfpkg(request) => {
                match UserDataClass::of(
                    ctx.vnf_instance,
                    &request.additional_params,
                    "additionalParams",
                )? {
                    Some(class) => {
                        let deploy = Deploy {
                            user_data: Some(UserDataSpec {
                                class,
                                operation: "change_vnfpkg",
                                rollback: true,
                                request: serde_json::to_value(request).unwrap_or_default(),
                            }),
                            rollback: true,
                            ..self.recorded_deploy(ctx)
                        };
                        self.deploy(ctx, &deploy, false, false).await
                    }
                    None => self.restore(ctx, false).await,
                }
            }
            Rollback::ChangeFlavour(_) => self.restore(ctx, false).await,
            Rollback::ChangeExtConn(_) => self.restore(ctx, true).await,
            other => Err(not_supported(VIM_TYPE, other.operation())),
        }
    }
}

/// What the driver runs: every operation of the infra-driver API it implements.
const CAPABILITIES: InfraCapabilities = InfraCapabilities::new()
    .with(InfraOperation::Scale)
    .with(InfraOperation::HealVnfc)
    .with(InfraOperation::HealVnf)
    .with(InfraOperation::ChangeFlavour)
    .with(InfraOperation::ChangeExtConn)
    .with(InfraOperation::ChangeVnfpkg)
    .with(InfraOperation::Operate)
    .with(InfraOperation::RollbackInstantiate)
    .with(InfraOperation::RollbackScale)
    .with(InfraOperation::RollbackChangeFlavour)
    .with(InfraOperation::RollbackChangeExtConn)
    .with(InfraOperation::RollbackChangeVnfpkg);

impl OpenStackInfraDriver {
    /// The physical ids of every server, port, volume, network and subnet the stack of
    /// VNF instance `vnf_instance_id` holds in `vim` (empty without a stack).
    pub async fn resource_ids(
        &self,
        vim: &VimConnectionInfo,
        vnf_instance_id: &str,
    ) -> Result<Vec<String>> {
        let heat = HeatClient::new(self.session(vim)?);
        let Some(stack) = heat.find_stack(&stack_name(vnf_instance_id)).await? else {
            return Ok(Vec::new());
        };
        if stack.stack_status == "DELETE_COMPLETE" {
            return Ok(Vec::new());
        }
        let reference = stack.reference();
        let resources = heat
            .resources(&reference, self.shared.options.nested_depth)
            .await?;
        Ok(leaf_ids(&resources, &reference))
    }

    /// Deletes the instance's stack and waits until it is gone.
    async fn remove_stack(&self, ctx: &InfraContext<'_>) -> Result<InfraOutcome> {
        let heat = self.heat(ctx)?;
        let name = stack_name(&ctx.vnf_instance.id);
        let deadline = self.deadline();
        if let Some(stack) = heat.find_stack(&name).await?
            && stack.stack_status != "DELETE_COMPLETE"
            && let Some(stack) = self.settle(&heat, stack, deadline, ctx).await?
            && stack.stack_status != "DELETE_COMPLETE"
        {
            heat.delete_stack(&stack.reference()).await?;
            heat.wait(&stack.reference(), "DELETE", deadline, ctx.cancel)
                .await?;
        }
        Ok(InfraOutcome::from_resources(
            ctx.recorded(),
            VnfResources::default(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(status: &str, reason: &str) -> Stack {
        serde_json::from_value(json!({
            "id": "s1", "stack_name": "vnf-1", "stack_status": status,
            "stack_status_reason": reason
        }))
        .expect("a stack")
    }

    #[test]
    fn only_heat_s_own_cancellations_are_sent_again() {
        assert!(cancelled_by_heat(&stack(
            "UPDATE_FAILED",
            "Resource UPDATE failed: resources.VDU2_CP1: Stack UPDATE cancelled"
        )));
        for (status, reason) in [
            (
                "UPDATE_FAILED",
                "Resource UPDATE failed: resources.VDU1: Flavor m1.huge could not be found",
            ),
            ("UPDATE_FAILED", "Timed out; Stack UPDATE cancelled"),
            (
                "CREATE_FAILED",
                "Resource CREATE failed: Stack CREATE cancelled",
            ),
            ("UPDATE_COMPLETE", "Stack UPDATE completed successfully"),
        ] {
            assert!(
                !cancelled_by_heat(&stack(status, reason)),
                "{status}: {reason}"
            );
        }
    }
}
