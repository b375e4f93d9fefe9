//! What each command sends and prints.

use std::io::{IsTerminal, Write};
use std::path::Path;

use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use url::Url;

use super::Error;
use super::args::{
    Command, ListArgs, OpCommand, PackageCommand, SubscriptionApi, SubscriptionCommand, TaskArgs,
    VimArgs, VimCommand, VnfCommand, WaitArgs,
};
use super::body::Body;
use super::client::{Api, Client, MERGE_PATCH, Problem, header_str, json_body, transport};
use super::output::{Format, Kind, render_list, render_one, render_row};
use super::wait::{ONBOARDING, OP, Progress, Stale, WaitOptions, wait_for};

const JSON: &str = "application/json";

/// What a command runs with: the client and the output format.
#[derive(Debug)]
pub struct Context {
    /// The VNFM client.
    pub client: Client,
    /// The output format.
    pub format: Format,
}

/// Writes `text` to stdout; a closed pipe (`tacker … | head`) is not an error.
pub fn emit(text: &str) -> Result<(), Error> {
    emit_bytes(text.as_bytes())
}

fn emit_bytes(bytes: &[u8]) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::Other(format!("stdout: {e}")))
        }
        _ => Ok(()),
    }
}

fn with_filter(mut url: Url, list: &ListArgs) -> Url {
    if let Some(filter) = &list.filter {
        url.query_pairs_mut().append_pair("filter", filter);
    }
    url
}

fn wait_options(wait: &WaitArgs) -> WaitOptions {
    WaitOptions {
        timeout: wait.timeout,
        interval: wait.poll_interval,
    }
}

/// Runs one of the server commands (everything but `package validate`).
pub async fn run(ctx: &Context, command: Command) -> Result<(), Error> {
    match command {
        Command::Package { command } => package(ctx, command).await,
        Command::Vnf { command } => vnf(ctx, command).await,
        Command::Op { command } => op(ctx, command).await,
        Command::Vim { command } => vim(ctx, command).await,
        Command::Subscription { command } => subscription(ctx, command).await,
    }
}

impl Context {
    async fn show(&self, api: Api, kind: Kind, url: Url) -> Result<(), Error> {
        let item = self.client.get_json(api, url).await?;
        emit(&render_one(self.format, kind, &item)?)
    }

    async fn list(&self, api: Api, kind: Kind, url: Url) -> Result<(), Error> {
        let items = self.client.list(api, url).await?;
        emit(&render_list(self.format, kind, items)?)
    }

    async fn create(&self, api: Api, kind: Kind, url: Url, body: Value) -> Result<(), Error> {
        let response = self
            .client
            .send_json(Method::POST, api, url, Some(&body), JSON)
            .await?;
        let item = json_body(response).await?;
        emit(&render_row(self.format, kind, &item)?)
    }

    async fn delete(&self, api: Api, url: Url, what: &str, id: &str) -> Result<(), Error> {
        self.client
            .send(self.client.request(Method::DELETE, api, url))
            .await?;
        if self.format == Format::Table {
            emit(&format!("deleted {what} {id}\n"))?;
        }
        Ok(())
    }

    async fn patch(&self, api: Api, kind: Kind, url: Url, body: Value) -> Result<(), Error> {
        let response = self
            .client
            .send_json(Method::PATCH, api, url, Some(&body), MERGE_PATCH)
            .await?;
        let item = json_body(response).await?;
        emit(&render_row(self.format, kind, &item)?)
    }
}

async fn package(ctx: &Context, command: PackageCommand) -> Result<(), Error> {
    let client = &ctx.client;
    let url = |segments: &[&str]| {
        let mut all = vec!["vnf_packages"];
        all.extend_from_slice(segments);
        client.url(Api::Pkgm, &all)
    };
    match command {
        PackageCommand::Create { user_data, body } => {
            let mut body = Body::from_arg(body.body.as_deref())?;
            body.merge_pairs("userDefinedData", &user_data)?;
            ctx.create(Api::Pkgm, Kind::Package, url(&[])?, body.into_value())
                .await
        }
        PackageCommand::Upload {
            id,
            path,
            uri,
            uri_username,
            uri_password,
            wait,
        } => {
            if let Some(uri) = uri {
                let mut body = Body::default();
                body.set("addressInformation", Some(uri))
                    .set("userName", uri_username)
                    .set("password", uri_password);
                client
                    .send_json(
                        Method::POST,
                        Api::Pkgm,
                        url(&[&id, "package_content", "upload_from_uri"])?,
                        Some(&body.into_value()),
                        JSON,
                    )
                    .await?;
            } else if let Some(path) = path {
                upload_content(client, url(&[&id, "package_content"])?, &path).await?;
            }
            let package_url = url(&[&id])?;
            let package = if wait.wait {
                let mut progress = Progress::stderr();
                let label = format!("package {id} onboarding");
                wait_for(
                    client,
                    &package_url,
                    ONBOARDING,
                    None,
                    &label,
                    wait_options(&wait),
                    &mut progress,
                )
                .await?
            } else {
                client.get_json(Api::Pkgm, package_url).await?
            };
            emit(&render_row(ctx.format, Kind::Package, &package)?)?;
            if wait.wait && package["onboardingState"] == "ERROR" {
                let reason = package
                    .get("onboardingFailureDetails")
                    .and_then(Problem::from_value)
                    .map(|p| format!(": {p}"))
                    .unwrap_or_default();
                return Err(Error::Failed(format!(
                    "package {id} onboarding ended ERROR{reason}"
                )));
            }
            Ok(())
        }
        PackageCommand::Show { id } => ctx.show(Api::Pkgm, Kind::Package, url(&[&id])?).await,
        PackageCommand::List { list } => {
            ctx.list(Api::Pkgm, Kind::Package, with_filter(url(&[])?, &list))
                .await
        }
        PackageCommand::Delete { id } => {
            ctx.delete(Api::Pkgm, url(&[&id])?, "VNF package", &id)
                .await
        }
        PackageCommand::Enable { id } => {
            let body = json!({"operationalState": "ENABLED"});
            ctx.patch_package(url(&[&id])?, body).await
        }
        PackageCommand::Disable { id } => {
            let body = json!({"operationalState": "DISABLED"});
            ctx.patch_package(url(&[&id])?, body).await
        }
        PackageCommand::Validate { .. } => Err(Error::Other(
            "package validate runs without a server".to_owned(),
        )),
        PackageCommand::Vnfd {
            id,
            zip,
            output_file,
        } => {
            let accept = if zip { "application/zip" } else { "text/plain" };
            let request = client
                .request(Method::GET, Api::Pkgm, url(&[&id, "vnfd"])?)
                .header(ACCEPT, accept);
            download(client.send(request).await?, output_file.as_deref()).await
        }
        PackageCommand::Artifact {
            id,
            path,
            output_file,
        } => {
            let mut segments = vec![id.as_str(), "artifacts"];
            segments.extend(path.split('/').filter(|s| !s.is_empty()));
            let request = client
                .request(Method::GET, Api::Pkgm, url(&segments)?)
                .header(ACCEPT, "*/*");
            download(client.send(request).await?, output_file.as_deref()).await
        }
    }
}

impl Context {
    async fn patch_package(&self, url: Url, body: Value) -> Result<(), Error> {
        let response = self
            .client
            .send_json(
                Method::PATCH,
                Api::Pkgm,
                url.clone(),
                Some(&body),
                MERGE_PATCH,
            )
            .await?;
        // The response is the VnfPkgInfoModifications; show the package itself.
        drop(response);
        let package = self.client.get_json(Api::Pkgm, url).await?;
        emit(&render_row(self.format, Kind::Package, &package)?)
    }
}

/// `PUT …/package_content` with a zip file streamed from disk, or a directory zipped in
/// memory.
async fn upload_content(client: &Client, url: Url, path: &Path) -> Result<(), Error> {
    let request = client
        .request(Method::PUT, Api::Pkgm, url)
        .header(CONTENT_TYPE, "application/zip");
    let request = if path.is_dir() {
        let bytes = crate::zip_package_dir(path)
            .map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
        request.body(bytes)
    } else {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
        let len = file
            .metadata()
            .await
            .map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?
            .len();
        request.header(CONTENT_LENGTH, len).body(file)
    };
    client.send(request).await?;
    Ok(())
}

/// Writes a response body to `file`, or to stdout (not a binary body to a terminal).
async fn download(mut response: Response, file: Option<&Path>) -> Result<(), Error> {
    let content_type = header_str(response.headers(), CONTENT_TYPE)
        .unwrap_or("")
        .to_ascii_lowercase();
    match file {
        Some(path) => {
            let mut out = std::fs::File::create(path)
                .map_err(|e| Error::Other(format!("{}: {e}", path.display())))?;
            while let Some(chunk) = response.chunk().await.map_err(transport)? {
                out.write_all(&chunk)
                    .map_err(|e| Error::Other(format!("{}: {e}", path.display())))?;
            }
            out.sync_all()
                .map_err(|e| Error::Other(format!("{}: {e}", path.display())))?;
            Ok(())
        }
        None => {
            let textual = content_type.starts_with("text/")
                || content_type.contains("yaml")
                || content_type.contains("json");
            if !textual && std::io::stdout().is_terminal() {
                return Err(Error::Usage(format!(
                    "the response is {}; write it to a file with -O FILE",
                    if content_type.is_empty() {
                        "binary"
                    } else {
                        &content_type
                    }
                )));
            }
            while let Some(chunk) = response.chunk().await.map_err(transport)? {
                emit_bytes(&chunk)?;
            }
            Ok(())
        }
    }
}

async fn vnf(ctx: &Context, command: VnfCommand) -> Result<(), Error> {
    let client = &ctx.client;
    let url = |segments: &[&str]| {
        let mut all = vec!["vnf_instances"];
        all.extend_from_slice(segments);
        client.url(Api::Lcm, &all)
    };
    match command {
        VnfCommand::Create {
            vnfd_id,
            name,
            description,
            metadata,
            body,
        } => {
            let mut body = Body::from_arg(body.body.as_deref())?;
            body.set("vnfdId", vnfd_id)
                .set("vnfInstanceName", name)
                .set("vnfInstanceDescription", description)
                .merge_pairs("metadata", &metadata)?;
            body.require("vnfdId", "--vnfd-id")?;
            ctx.create(Api::Lcm, Kind::Vnf, url(&[])?, body.into_value())
                .await
        }
        VnfCommand::Instantiate {
            id,
            flavour,
            level,
            task,
        } => {
            let mut body = task_body(&task)?;
            body.set("flavourId", flavour)
                .set("instantiationLevelId", level);
            body.require("flavourId", "--flavour")?;
            run_task(ctx, url(&[&id, "instantiate"])?, body, &task.wait).await
        }
        VnfCommand::Terminate {
            id,
            graceful,
            graceful_timeout,
            task,
        } => {
            let mut body = task_body(&task)?;
            if graceful {
                body.set("terminationType", Some("GRACEFUL"));
            } else if !body.0.contains_key("terminationType") {
                body.set("terminationType", Some("FORCEFUL"));
            }
            body.set("gracefulTerminationTimeout", graceful_timeout);
            run_task(ctx, url(&[&id, "terminate"])?, body, &task.wait).await
        }
        VnfCommand::Scale {
            id,
            aspect,
            out,
            in_,
            steps,
            task,
        } => {
            let mut body = task_body(&task)?;
            let direction = match (out, in_) {
                (true, _) => Some("SCALE_OUT"),
                (_, true) => Some("SCALE_IN"),
                _ => None,
            };
            body.set("type", direction)
                .set("aspectId", aspect)
                .set("numberOfSteps", steps);
            body.require("type", "--out or --in")?;
            body.require("aspectId", "--aspect")?;
            run_task(ctx, url(&[&id, "scale"])?, body, &task.wait).await
        }
        VnfCommand::ScaleToLevel {
            id,
            level,
            aspect_level,
            task,
        } => {
            let mut body = task_body(&task)?;
            body.set("instantiationLevelId", level);
            if !aspect_level.is_empty() {
                let scale_info: Vec<Value> = aspect_level
                    .into_iter()
                    .map(|(aspect, level)| json!({"aspectId": aspect, "scaleLevel": level}))
                    .collect();
                body.set("scaleInfo", Some(scale_info));
            }
            if !body.0.contains_key("instantiationLevelId") && !body.0.contains_key("scaleInfo") {
                return Err(Error::Usage(
                    "give --level or --aspect-level (or put them in --body)".to_owned(),
                ));
            }
            run_task(ctx, url(&[&id, "scale_to_level"])?, body, &task.wait).await
        }
        VnfCommand::Heal {
            id,
            vnfc,
            cause,
            task,
        } => {
            let mut body = task_body(&task)?;
            if !vnfc.is_empty() {
                body.set("vnfcInstanceId", Some(vnfc));
            }
            body.set("cause", cause);
            run_task(ctx, url(&[&id, "heal"])?, body, &task.wait).await
        }
        VnfCommand::ChangeFlavour {
            id,
            flavour,
            level,
            task,
        } => {
            let mut body = task_body(&task)?;
            body.set("newFlavourId", flavour)
                .set("instantiationLevelId", level);
            body.require("newFlavourId", "--flavour")?;
            run_task(ctx, url(&[&id, "change_flavour"])?, body, &task.wait).await
        }
        VnfCommand::Operate {
            id,
            start,
            stop,
            stop_type,
            graceful_timeout,
            task,
        } => {
            let mut body = task_body(&task)?;
            let state = match (start, stop) {
                (true, _) => Some("STARTED"),
                (_, true) => Some("STOPPED"),
                _ => None,
            };
            body.set("changeStateTo", state)
                .set("stopType", stop_type.map(|t| t.etsi()))
                .set("gracefulStopTimeout", graceful_timeout);
            body.require("changeStateTo", "--start or --stop")?;
            run_task(ctx, url(&[&id, "operate"])?, body, &task.wait).await
        }
        VnfCommand::ChangeExtConn { id, task } => {
            let body = task_body(&task)?;
            body.require("extVirtualLinks", "--body with extVirtualLinks")?;
            run_task(ctx, url(&[&id, "change_ext_conn"])?, body, &task.wait).await
        }
        VnfCommand::ChangePkg { id, vnfd_id, task } => {
            let mut body = task_body(&task)?;
            body.set("vnfdId", vnfd_id);
            body.require("vnfdId", "--vnfd-id")?;
            run_task(ctx, url(&[&id, "change_vnfpkg"])?, body, &task.wait).await
        }
        VnfCommand::Modify {
            id,
            name,
            description,
            metadata,
            body,
            wait,
        } => {
            let mut body = Body::from_arg(body.body.as_deref())?;
            body.set("vnfInstanceName", name)
                .set("vnfInstanceDescription", description)
                .merge_pairs("metadata", &metadata)?;
            if body.0.is_empty() {
                return Err(Error::Usage(
                    "nothing to change: give --name, --description, --metadata or --body"
                        .to_owned(),
                ));
            }
            let response = client
                .send_json(
                    Method::PATCH,
                    Api::Lcm,
                    url(&[&id])?,
                    Some(&body.into_value()),
                    MERGE_PATCH,
                )
                .await?;
            if response.headers().contains_key(LOCATION) {
                follow(ctx, response, &wait, None, &["COMPLETED"]).await
            } else {
                let item = json_body(response).await?;
                emit(&render_row(ctx.format, Kind::Vnf, &item)?)
            }
        }
        VnfCommand::Show { id } => {
            let mut url = url(&[&id])?;
            url.query_pairs_mut().append_key_only("all_fields");
            ctx.show(Api::Lcm, Kind::Vnf, url).await
        }
        VnfCommand::List { list, all_fields } => {
            let mut url = with_filter(url(&[])?, &list);
            if all_fields {
                url.query_pairs_mut().append_key_only("all_fields");
            }
            ctx.list(Api::Lcm, Kind::Vnf, url).await
        }
        VnfCommand::Delete { id } => {
            ctx.delete(Api::Lcm, url(&[&id])?, "VNF instance", &id)
                .await
        }
    }
}

fn task_body(task: &TaskArgs) -> Result<Body, Error> {
    let mut body = Body::from_arg(task.body.body.as_deref())?;
    body.merge_pairs("additionalParams", &task.params.params)?;
    Ok(body)
}

/// Posts a task and follows the op occurrence it created.
async fn run_task(ctx: &Context, url: Url, body: Body, wait: &WaitArgs) -> Result<(), Error> {
    let response = ctx
        .client
        .send_json(Method::POST, Api::Lcm, url, Some(&body.into_value()), JSON)
        .await?;
    follow(ctx, response, wait, None, &["COMPLETED"]).await
}

/// The op occurrence of a 202 response's `Location`: shown at once, or followed to its
/// end with `--wait`. An end outside `success` fails with exit code 2.
async fn follow(
    ctx: &Context,
    response: Response,
    wait: &WaitArgs,
    stale: Option<&Stale>,
    success: &[&str],
) -> Result<(), Error> {
    let location = header_str(response.headers(), LOCATION).ok_or_else(|| {
        Error::Protocol(format!(
            "{} {} without a Location header",
            response.url(),
            response.status()
        ))
    })?;
    let op_url = ctx.client.server_url(response.url(), location)?;
    follow_op(ctx, op_url, wait, stale, success).await
}

async fn follow_op(
    ctx: &Context,
    op_url: Url,
    wait: &WaitArgs,
    stale: Option<&Stale>,
    success: &[&str],
) -> Result<(), Error> {
    let client = &ctx.client;
    if !wait.wait {
        let op = client.get_json(Api::Lcm, op_url).await?;
        return emit(&render_row(ctx.format, Kind::Op, &op)?);
    }
    let op_id = op_url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or("")
        .to_owned();
    let mut progress = Progress::stderr();
    let first = client.get_json(Api::Lcm, op_url.clone()).await?;
    let operation = first["operation"]
        .as_str()
        .unwrap_or("operation")
        .to_owned();
    let label = format!("{operation} {op_id}");
    let op = wait_for(
        client,
        &op_url,
        OP,
        stale,
        &label,
        wait_options(wait),
        &mut progress,
    )
    .await?;
    emit(&render_row(ctx.format, Kind::Op, &op)?)?;
    op_outcome(&op, success)
}

/// Ok when the op ended in one of `success`; otherwise [`Error::Failed`] with the op's
/// error.
pub fn op_outcome(op: &Value, success: &[&str]) -> Result<(), Error> {
    let state = op["operationState"].as_str().unwrap_or("?");
    if success.contains(&state) {
        return Ok(());
    }
    let reason = op
        .get("error")
        .and_then(Problem::from_value)
        .map(|p| format!(": {p}"))
        .unwrap_or_default();
    Err(Error::Failed(format!(
        "operation {} ({}) ended {state}{reason}",
        op["id"].as_str().unwrap_or("?"),
        op["operation"].as_str().unwrap_or("?"),
    )))
}

async fn op(ctx: &Context, command: OpCommand) -> Result<(), Error> {
    let client = &ctx.client;
    let url = |segments: &[&str]| {
        let mut all = vec!["vnf_lcm_op_occs"];
        all.extend_from_slice(segments);
        client.url(Api::Lcm, &all)
    };
    match command {
        OpCommand::List { list } => {
            ctx.list(Api::Lcm, Kind::Op, with_filter(url(&[])?, &list))
                .await
        }
        OpCommand::Show { id } => ctx.show(Api::Lcm, Kind::Op, url(&[&id])?).await,
        OpCommand::Retry { id, wait } => {
            op_action(ctx, url(&[&id])?, "retry", &wait, &["COMPLETED"]).await
        }
        OpCommand::Rollback { id, wait } => {
            op_action(ctx, url(&[&id])?, "rollback", &wait, &["ROLLED_BACK"]).await
        }
        OpCommand::Fail { id } => {
            let response = client
                .send_json(Method::POST, Api::Lcm, url(&[&id, "fail"])?, None, JSON)
                .await?;
            let op = json_body(response).await?;
            emit(&render_row(ctx.format, Kind::Op, &op)?)
        }
        OpCommand::Cancel { id, mode } => {
            let body = json!({"cancelMode": mode.etsi()});
            client
                .send_json(
                    Method::POST,
                    Api::Lcm,
                    url(&[&id, "cancel"])?,
                    Some(&body),
                    JSON,
                )
                .await?;
            let op = client.get_json(Api::Lcm, url(&[&id])?).await?;
            emit(&render_row(ctx.format, Kind::Op, &op)?)
        }
    }
}

/// `retry` or `rollback`: the op's current state is stale for `--wait`, which must see
/// the op move on before a FAILED_TEMP ends it.
async fn op_action(
    ctx: &Context,
    op_url: Url,
    action: &str,
    wait: &WaitArgs,
    success: &[&str],
) -> Result<(), Error> {
    let client = &ctx.client;
    let stale = if wait.wait {
        let before = client.get_json(Api::Lcm, op_url.clone()).await?;
        Stale::of(&before, OP.field)
    } else {
        None
    };
    let mut action_url = op_url.clone();
    action_url
        .path_segments_mut()
        .map_err(|()| Error::Protocol(format!("{op_url} has no path")))?
        .push(action);
    let response = client
        .send_json(Method::POST, Api::Lcm, action_url, None, JSON)
        .await?;
    let op_url = match header_str(response.headers(), LOCATION) {
        Some(location) if response.status() == StatusCode::ACCEPTED => {
            client.server_url(response.url(), location)?
        }
        _ => op_url,
    };
    follow_op(ctx, op_url, wait, stale.as_ref(), success).await
}

fn vim_body(body: &mut Body, vim: &VimArgs) -> Result<(), Error> {
    body.set("description", vim.description.clone());
    let mut interface = vim.interface.clone();
    if let Some(endpoint) = &vim.vim_endpoint {
        interface.push(("endpoint".to_owned(), Value::String(endpoint.clone())));
    }
    body.merge_pairs("interfaceInfo", &interface)?
        .merge_pairs("accessInfo", &vim.access)?
        .merge_pairs("extra", &vim.extra)?;
    Ok(())
}

async fn vim(ctx: &Context, command: VimCommand) -> Result<(), Error> {
    let client = &ctx.client;
    let url = |segments: &[&str]| {
        let mut all = vec!["vims"];
        all.extend_from_slice(segments);
        client.url(Api::Vims, &all)
    };
    match command {
        VimCommand::Register {
            name,
            vim_type,
            default,
            vim,
        } => {
            let mut body = Body::from_arg(vim.body.body.as_deref())?;
            body.set("name", name).set("vimType", vim_type);
            if default {
                body.set("isDefault", Some(true));
            }
            vim_body(&mut body, &vim)?;
            body.require("name", "--name")?;
            body.require("vimType", "--type")?;
            ctx.create(Api::Vims, Kind::Vim, url(&[])?, body.into_value())
                .await
        }
        VimCommand::List { list } => {
            ctx.list(Api::Vims, Kind::Vim, with_filter(url(&[])?, &list))
                .await
        }
        VimCommand::Show { id } => ctx.show(Api::Vims, Kind::Vim, url(&[&id])?).await,
        VimCommand::Update {
            id,
            name,
            default,
            vim,
        } => {
            let mut body = Body::from_arg(vim.body.body.as_deref())?;
            body.set("name", name).set("isDefault", default);
            vim_body(&mut body, &vim)?;
            if body.0.is_empty() {
                return Err(Error::Usage("nothing to change".to_owned()));
            }
            ctx.patch(Api::Vims, Kind::Vim, url(&[&id])?, body.into_value())
                .await
        }
        VimCommand::Delete { id } => ctx.delete(Api::Vims, url(&[&id])?, "VIM", &id).await,
    }
}

async fn subscription(ctx: &Context, command: SubscriptionCommand) -> Result<(), Error> {
    let api_of = |api: SubscriptionApi| match api {
        SubscriptionApi::Lcm => Api::Lcm,
        SubscriptionApi::Pkgm => Api::Pkgm,
    };
    let url = |api: Api, id: Option<&str>| {
        let mut segments = vec!["subscriptions"];
        segments.extend(id);
        ctx.client.url(api, &segments)
    };
    match command {
        SubscriptionCommand::Create {
            api,
            callback,
            verbosity,
            notification_types,
            body,
        } => {
            let api = api_of(api.api);
            let mut body = Body::from_arg(body.body.as_deref())?;
            body.set("callbackUri", callback).set(
                "verbosity",
                verbosity.map(|v| match v {
                    super::args::Verbosity::Full => "FULL",
                    super::args::Verbosity::Short => "SHORT",
                }),
            );
            if !notification_types.is_empty() {
                let types = Value::from(notification_types);
                body.merge_pairs("filter", &[("notificationTypes".to_owned(), types)])?;
            }
            body.require("callbackUri", "--callback")?;
            ctx.create(api, Kind::Subscription, url(api, None)?, body.into_value())
                .await
        }
        SubscriptionCommand::List { api, list } => {
            let api = api_of(api.api);
            ctx.list(api, Kind::Subscription, with_filter(url(api, None)?, &list))
                .await
        }
        SubscriptionCommand::Show { api, id } => {
            let api = api_of(api.api);
            ctx.show(api, Kind::Subscription, url(api, Some(&id))?)
                .await
        }
        SubscriptionCommand::Delete { api, id } => {
            let api = api_of(api.api);
            ctx.delete(api, url(api, Some(&id))?, "subscription", &id)
                .await
        }
    }
}
