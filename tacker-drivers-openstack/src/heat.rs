//! A client of Heat's v1 REST API (orchestration): stacks, their resources and events,
//! and following a stack until its action ends.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tacker_core::model::KeyValuePairs;
use tacker_core::{Error, Result};
use tokio_util::sync::CancellationToken;

use crate::DRIVER;
use crate::keystone::{KeystoneSession, error_message, retryable_status};

/// The catalog type of Heat.
pub const ORCHESTRATION: &str = "orchestration";

/// A stack as `GET /stacks/{name}/{id}` shows it (the fields the driver reads).
#[derive(Debug, Clone, Deserialize)]
pub struct Stack {
    /// The stack's id.
    pub id: String,
    /// Its name.
    pub stack_name: String,
    /// `<ACTION>_<STATUS>`, e.g. `CREATE_COMPLETE`.
    pub stack_status: String,
    /// Why it is in that status.
    #[serde(default)]
    pub stack_status_reason: Option<String>,
    /// Whether Heat rolls a failed create or update back itself.
    #[serde(default)]
    pub disable_rollback: Option<bool>,
    /// The stack's tags.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// The parameters as Heat holds them (JSON parameters as strings).
    #[serde(default)]
    pub parameters: KeyValuePairs,
    /// When it was created (`YYYY-MM-DDThh:mm:ssZ`).
    #[serde(default)]
    pub creation_time: Option<String>,
    /// When its last update began, if it was ever updated.
    #[serde(default)]
    pub updated_time: Option<String>,
}

impl Stack {
    /// `(name, id)`, the path that addresses the stack.
    pub fn reference(&self) -> StackRef {
        StackRef {
            name: self.stack_name.clone(),
            id: self.id.clone(),
        }
    }

    /// The action part of the status (`CREATE`, `UPDATE`, `DELETE`, `ROLLBACK`, …):
    /// the status without its `_IN_PROGRESS`, `_COMPLETE` or `_FAILED`.
    pub fn action(&self) -> &str {
        let status = self.stack_status.as_str();
        ["_IN_PROGRESS", "_COMPLETE", "_FAILED"]
            .iter()
            .find_map(|state| status.strip_suffix(state))
            .unwrap_or(status)
    }

    /// Whether an action is under way.
    pub fn in_progress(&self) -> bool {
        self.stack_status.ends_with("_IN_PROGRESS")
    }

    /// When the action the stack is in (or last ran) began: its last update's start,
    /// else its creation.
    pub fn action_began(&self) -> Option<&str> {
        self.updated_time
            .as_deref()
            .or(self.creation_time.as_deref())
    }

    /// Whether the stack carries `tag`.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags
            .as_ref()
            .is_some_and(|tags| tags.iter().any(|t| t == tag))
    }
}

/// A stack's name and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackRef {
    /// The name.
    pub name: String,
    /// The id.
    pub id: String,
}

impl StackRef {
    fn path(&self) -> String {
        format!("stacks/{}/{}", self.name, self.id)
    }
}

/// A link of a resource.
#[derive(Debug, Clone, Deserialize)]
pub struct Link {
    /// The URL.
    pub href: String,
    /// `self`, `stack` or `nested`.
    pub rel: String,
}

/// One resource of `GET …/resources?nested_depth=N&with_detail=true`.
#[derive(Debug, Clone, Deserialize)]
pub struct HeatResource {
    /// The name in its template.
    pub resource_name: String,
    /// The type as the template names it (a provider template keeps the name it
    /// stands in for).
    pub resource_type: String,
    /// The id in the service that owns it (for nested stacks: the stack id).
    #[serde(default)]
    pub physical_resource_id: Option<String>,
    /// `<ACTION>_<STATUS>`.
    pub resource_status: String,
    /// The reason of the status.
    #[serde(default)]
    pub resource_status_reason: Option<String>,
    /// The resource in the parent stack that holds this resource's stack.
    #[serde(default)]
    pub parent_resource: Option<String>,
    /// When it was created.
    #[serde(default)]
    pub creation_time: Option<String>,
    /// Links: `stack` (the stack holding it), `nested` (the stack it is).
    #[serde(default)]
    pub links: Vec<Link>,
    /// Its attributes, when the listing asked for details.
    #[serde(default)]
    pub attributes: Option<KeyValuePairs>,
}

fn stack_ref_of(href: &str) -> Option<StackRef> {
    let (_, tail) = href.split_once("/stacks/")?;
    let mut parts = tail.split('/');
    let name = parts.next()?.to_owned();
    let id = parts.next()?.to_owned();
    Some(StackRef { name, id })
}

impl HeatResource {
    /// The stack that holds this resource.
    pub fn stack(&self) -> Option<StackRef> {
        self.links
            .iter()
            .find(|l| l.rel == "stack")
            .and_then(|l| stack_ref_of(&l.href))
    }

    /// The stack this resource is (template and group resources).
    pub fn nested(&self) -> Option<StackRef> {
        self.links
            .iter()
            .find(|l| l.rel == "nested")
            .and_then(|l| stack_ref_of(&l.href))
    }
}

/// One event of `GET …/events`.
#[derive(Debug, Clone, Deserialize)]
pub struct HeatEvent {
    /// The resource it is about (the stack's own name for stack events).
    #[serde(default)]
    pub resource_name: Option<String>,
    /// `<ACTION>_<STATUS>`.
    #[serde(default)]
    pub resource_status: Option<String>,
    /// Why.
    #[serde(default)]
    pub resource_status_reason: Option<String>,
    /// When.
    #[serde(default)]
    pub event_time: Option<String>,
    /// The resource's physical id.
    #[serde(default)]
    pub physical_resource_id: Option<String>,
}

/// The body of a stack create (`POST /stacks`) or full update (`PUT`).
#[derive(Debug, Clone, Serialize, Default)]
pub struct StackTemplate {
    /// The top template (HOT, as text).
    pub template: String,
    /// Files the template references (nested templates, provider templates).
    pub files: KeyValuePairs,
    /// The environment (`resource_registry`, `parameter_defaults`).
    pub environment: KeyValuePairs,
    /// Parameters.
    pub parameters: KeyValuePairs,
    /// Tags, comma-separated.
    pub tags: String,
    /// Heat's own timeout in minutes.
    pub timeout_mins: u64,
    /// Whether Heat leaves a failed create as it is (true) or rolls it back.
    pub disable_rollback: bool,
}

/// Heat over one Keystone session.
#[derive(Debug, Clone)]
pub struct HeatClient {
    session: Arc<KeystoneSession>,
}

/// What a caller wants from an answer.
async fn expect(
    what: &str,
    url: &url::Url,
    response: reqwest::Response,
    ok: &[StatusCode],
) -> Result<String> {
    let status = response.status();
    let body = response.text().await.map_err(|e| {
        crate::keystone::transport_error("reading Heat's answer to", url.as_str(), &e)
    })?;
    if ok.contains(&status) {
        return Ok(body);
    }
    let retryable = retryable_status(status) || status == StatusCode::CONFLICT;
    Err(Error::driver(
        DRIVER,
        retryable,
        format!(
            "Heat refused to {what} ({url}): {status}: {}",
            error_message(&body)
        ),
    ))
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, body: &str) -> Result<T> {
    serde_json::from_str(body).map_err(|e| {
        Error::driver(
            DRIVER,
            false,
            format!("Heat's answer to {what} does not parse: {e}"),
        )
    })
}

/// How a wait for a stack ended.
#[derive(Debug, Clone)]
pub enum Settled {
    /// The stack reached `<ACTION>_COMPLETE` of the awaited action.
    Complete(Stack),
    /// The stack is gone (after a delete).
    Gone,
}

impl HeatClient {
    /// A client over `session`.
    pub fn new(session: Arc<KeystoneSession>) -> Self {
        Self { session }
    }

    /// The session.
    pub fn session(&self) -> &Arc<KeystoneSession> {
        &self.session
    }

    /// `GET path`, answered 200 with a `T`; `what` names the call in errors.
    async fn get_json<T: serde::de::DeserializeOwned>(&self, what: &str, path: &str) -> Result<T> {
        let (url, response) = self
            .session
            .send(ORCHESTRATION, Method::GET, path, |r| r)
            .await?;
        let body = expect(what, &url, response, &[StatusCode::OK]).await?;
        parse(what, &body)
    }

    /// The stack named `name`, or `None` when there is none (a stack deleted a moment
    /// ago may still show as `DELETE_COMPLETE`).
    pub async fn find_stack(&self, name: &str) -> Result<Option<Stack>> {
        let (url, response) = self
            .session
            .send(ORCHESTRATION, Method::GET, &format!("stacks/{name}"), |r| r)
            .await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let body = expect(
            &format!("show stack {name}"),
            &url,
            response,
            &[StatusCode::OK],
        )
        .await?;
        let wrapper: StackWrapper = parse(&format!("show stack {name}"), &body)?;
        Ok(Some(wrapper.stack))
    }

    /// The stack `stack`, or `None` when it is gone.
    pub async fn get_stack(&self, stack: &StackRef) -> Result<Option<Stack>> {
        let (url, response) = self
            .session
            .send(ORCHESTRATION, Method::GET, &stack.path(), |r| r)
            .await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let body = expect(
            &format!("show stack {}", stack.name),
            &url,
            response,
            &[StatusCode::OK],
        )
        .await?;
        let wrapper: StackWrapper = parse(&format!("show stack {}", stack.name), &body)?;
        Ok(Some(wrapper.stack))
    }

    /// Creates stack `name`.
    pub async fn create_stack(&self, name: &str, body: &StackTemplate) -> Result<StackRef> {
        let mut request = serde_json::to_value(body)
            .map_err(|e| Error::Internal(format!("cannot encode the stack: {e}")))?;
        request["stack_name"] = Value::String(name.to_owned());
        let (url, response) = self
            .session
            .send(ORCHESTRATION, Method::POST, "stacks", |r| r.json(&request))
            .await?;
        let text = expect(
            &format!("create stack {name}"),
            &url,
            response,
            &[StatusCode::CREATED],
        )
        .await?;
        let created: CreatedWrapper = parse(&format!("create stack {name}"), &text)?;
        Ok(StackRef {
            name: name.to_owned(),
            id: created.stack.id,
        })
    }

    /// Replaces the template, files, environment and parameters of `stack` (`PUT`).
    pub async fn replace_stack(&self, stack: &StackRef, body: &StackTemplate) -> Result<()> {
        let (url, response) = self
            .session
            .send(ORCHESTRATION, Method::PUT, &stack.path(), |r| r.json(body))
            .await?;
        expect(
            &format!("update stack {}", stack.name),
            &url,
            response,
            &[StatusCode::ACCEPTED],
        )
        .await
        .map(drop)
    }

    /// Updates `stack` keeping its template (`PATCH`): new `parameters` (merged) and
    /// `tags`; with no parameters it re-converges the stack, replacing resources
    /// marked unhealthy.
    pub async fn patch_stack(
        &self,
        stack: &StackRef,
        parameters: &KeyValuePairs,
        tags: &str,
        timeout_mins: u64,
    ) -> Result<()> {
        let body = serde_json::json!({
            "parameters": parameters,
            "tags": tags,
            "timeout_mins": timeout_mins,
        });
        let (url, response) = self
            .session
            .send(ORCHESTRATION, Method::PATCH, &stack.path(), |r| {
                r.json(&body)
            })
            .await?;
        expect(
            &format!("update stack {}", stack.name),
            &url,
            response,
            &[StatusCode::ACCEPTED],
        )
        .await
        .map(drop)
    }

    /// Deletes `stack`; a stack already gone is fine.
    pub async fn delete_stack(&self, stack: &StackRef) -> Result<()> {
        let (url, response) = self
            .session
            .send(ORCHESTRATION, Method::DELETE, &stack.path(), |r| r)
            .await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(());
        }
        expect(
            &format!("delete stack {}", stack.name),
            &url,
            response,
            &[StatusCode::NO_CONTENT, StatusCode::ACCEPTED, StatusCode::OK],
        )
        .await
        .map(drop)
    }

    /// Every resource of `stack` down to `nested_depth` levels of nested stacks, with
    /// attributes.
    pub async fn resources(
        &self,
        stack: &StackRef,
        nested_depth: u32,
    ) -> Result<Vec<HeatResource>> {
        let path = format!(
            "{}/resources?nested_depth={nested_depth}&with_detail=true",
            stack.path()
        );
        let list: ResourceList = self
            .get_json(
                &format!("list the resources of stack {}", stack.name),
                &path,
            )
            .await?;
        Ok(list.resources)
    }

    /// The stack's current top template (as Heat holds it, parsed).
    pub async fn template(&self, stack: &StackRef) -> Result<Value> {
        self.get_json(
            &format!("read the template of stack {}", stack.name),
            &format!("{}/template", stack.path()),
        )
        .await
    }

    /// Marks `resource` of `stack` unhealthy, so that the next update replaces it.
    pub async fn mark_unhealthy(
        &self,
        stack: &StackRef,
        resource: &str,
        reason: &str,
    ) -> Result<()> {
        let path = format!("{}/resources/{resource}", stack.path());
        let body = serde_json::json!({"mark_unhealthy": true, "resource_status_reason": reason});
        let (url, response) = self
            .session
            .send(ORCHESTRATION, Method::PATCH, &path, |r| r.json(&body))
            .await?;
        expect(
            &format!("mark resource {resource} of stack {} unhealthy", stack.name),
            &url,
            response,
            &[StatusCode::OK, StatusCode::NO_CONTENT],
        )
        .await
        .map(drop)
    }

    /// The FAILED events of `stack` and its nested stacks, oldest first.
    pub async fn failed_events(&self, stack: &StackRef) -> Result<Vec<HeatEvent>> {
        let path = format!(
            "{}/events?resource_status=FAILED&nested_depth=3&sort_dir=asc",
            stack.path()
        );
        let list: EventList = self
            .get_json(&format!("list the events of stack {}", stack.name), &path)
            .await?;
        Ok(list.events)
    }

    /// Follows `stack` until `action` ends: `<action>_COMPLETE` is success, and so is
    /// a stack gone for `DELETE`. `<action>_FAILED` (once any rollback Heat does on its
    /// own is over) and `ROLLBACK_*` are failures whose error quotes Heat's reasons.
    /// Polls with backoff; gives up (retryable) at `deadline`; stops when `cancel`
    /// fires.
    pub async fn wait(
        &self,
        stack: &StackRef,
        action: &str,
        deadline: Instant,
        cancel: &CancellationToken,
    ) -> Result<Settled> {
        let mut pause = Duration::from_millis(250);
        loop {
            let current = self.get_stack(stack).await?;
            let Some(current) = current else {
                if action == "DELETE" {
                    return Ok(Settled::Gone);
                }
                return Err(Error::driver(
                    DRIVER,
                    true,
                    format!("Heat stack {} disappeared during {action}", stack.name),
                ));
            };
            let status = current.stack_status.as_str();
            if action == "DELETE" && status == "DELETE_COMPLETE" {
                return Ok(Settled::Gone);
            }
            if status == format!("{action}_COMPLETE") {
                return Ok(Settled::Complete(current));
            }
            let rolls_back = current.disable_rollback == Some(false);
            let failed_here = status == format!("{action}_FAILED");
            let final_failure = (failed_here
                && !(rolls_back && matches!(action, "CREATE" | "UPDATE")))
                || status == "ROLLBACK_COMPLETE"
                || status == "ROLLBACK_FAILED";
            if final_failure {
                return Err(self.failure(stack, &current).await);
            }
            if Instant::now() >= deadline {
                return Err(Error::driver(
                    DRIVER,
                    true,
                    format!(
                        "Heat stack {} did not finish {action} in time: it is {status}{}",
                        stack.name,
                        current
                            .stack_status_reason
                            .as_deref()
                            .map(|r| format!(" ({r})"))
                            .unwrap_or_default()
                    ),
                ));
            }
            let nap = pause.min(deadline.saturating_duration_since(Instant::now()));
            tokio::select! {
                () = cancel.cancelled() => {
                    return Err(Error::Cancelled(format!(
                        "cancelled while Heat stack {} was {status}", stack.name
                    )));
                }
                () = tokio::time::sleep(nap) => {}
            }
            pause = (pause * 3 / 2).min(Duration::from_secs(2));
        }
    }

    /// The error of a failed stack: its status and reason, and the reasons of the
    /// resources that failed.
    async fn failure(&self, stack: &StackRef, current: &Stack) -> Error {
        let mut message = format!(
            "Heat stack {} is {}: {}",
            stack.name,
            current.stack_status,
            current
                .stack_status_reason
                .as_deref()
                .unwrap_or("no reason given")
        );
        match self.failed_events(stack).await {
            Ok(events) => {
                let mut seen = Vec::new();
                // Failures of earlier actions (the create a retry updates) are history,
                // not this action's reasons.
                let began = current.action_began();
                let recent = |event: &HeatEvent| match (began, event.event_time.as_deref()) {
                    (Some(began), Some(at)) => at >= began,
                    _ => true,
                };
                for event in events.into_iter().filter(recent) {
                    let (Some(name), Some(reason)) =
                        (event.resource_name, event.resource_status_reason)
                    else {
                        continue;
                    };
                    if name == stack.name || reason.is_empty() {
                        continue;
                    }
                    let line = format!("{name}: {reason}");
                    if !seen.contains(&line) && !message.contains(&reason) {
                        seen.push(line);
                    }
                }
                if !seen.is_empty() {
                    message.push_str("; failed resources: ");
                    message.push_str(&seen.join("; "));
                }
            }
            Err(error) => {
                message.push_str(&format!("; its events could not be read: {error}"));
            }
        }
        Error::driver(DRIVER, true, message)
    }
}

#[derive(Debug, Deserialize)]
struct StackWrapper {
    stack: Stack,
}

#[derive(Debug, Deserialize)]
struct CreatedId {
    id: String,
}

#[derive(Debug, Deserialize)]
struct CreatedWrapper {
    stack: CreatedId,
}

#[derive(Debug, Deserialize)]
struct ResourceList {
    #[serde(default)]
    resources: Vec<HeatResource>,
}

#[derive(Debug, Deserialize)]
struct EventList {
    #[serde(default)]
    events: Vec<HeatEvent>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(status: &str) -> Stack {
        serde_json::from_value(serde_json::json!({
            "id": "1234",
            "stack_name": "vnf-1",
            "stack_status": status,
        }))
        .expect("a stack")
    }

    #[test]
    fn the_action_is_the_status_without_its_state() {
        for (status, action, in_progress) in [
            ("CREATE_IN_PROGRESS", "CREATE", true),
            ("CREATE_FAILED", "CREATE", false),
            ("UPDATE_IN_PROGRESS", "UPDATE", true),
            ("UPDATE_COMPLETE", "UPDATE", false),
            ("ROLLBACK_IN_PROGRESS", "ROLLBACK", true),
            ("DELETE_COMPLETE", "DELETE", false),
            ("SNAPSHOT_IN_PROGRESS", "SNAPSHOT", true),
            ("INIT_COMPLETE", "INIT", false),
            ("UNKNOWN", "UNKNOWN", false),
        ] {
            let stack = stack(status);
            assert_eq!(stack.action(), action, "{status}");
            assert_eq!(stack.in_progress(), in_progress, "{status}");
        }
    }

    #[test]
    fn stack_links_are_read() {
        let r = stack_ref_of("http://h:1/v1/p/stacks/vnf-1-VDU1-abc/1234-5678/resources/x");
        assert_eq!(
            r,
            Some(StackRef {
                name: "vnf-1-VDU1-abc".into(),
                id: "1234-5678".into()
            })
        );
        assert_eq!(stack_ref_of("http://h:1/v1/p/other"), None);
    }
}
