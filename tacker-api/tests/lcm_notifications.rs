//! End to end: the LCM engine delivers its notifications through `HttpNotificationSink`
//! to a local callback that refuses, stalls on and hangs up on some deliveries. Every
//! notification still arrives exactly once, in the order it was generated, with the
//! `id` it had on its first attempt.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Extension, Router};
use bytes::Bytes;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use serde_json::Value;
use tacker_api::HttpNotificationSink;
use tacker_core::lcm::{LcmConfig, VnfLcm};
use tacker_core::mgmt::{MgmtContext, MgmtDriver, MgmtOutcome};
use tacker_core::model::{
    AuthType, CreateVnfPkgInfoRequest, CreateVnfRequest, InstantiateVnfRequest, LccnSubscription,
    LccnSubscriptionRequest, LcmNotificationType, LcmOperationStateType, LcmOperationType,
    LifecycleChangeNotificationsFilter, ParamsBasic, ScaleType, ScaleVnfRequest,
    SubscriptionAuthentication, TerminateVnfRequest, TerminationType, VnfLcmOpOcc,
};
use tacker_core::notify::SenderConfig;
use tacker_core::sim::{SimInfraDriver, sample_vim};
use tacker_core::{TenantId, Vnfm};
use tokio::net::TcpListener;
use tokio::sync::Notify;

mod support;

use support::{VNFD_ID, package_zip};

/// The subscriptions' BASIC credentials, and the header they make.
const USER: &str = "tacker";
const PASSWORD: &str = "s3cret";
const AUTHORIZATION: &str = "Basic dGFja2VyOnMzY3JldA==";

/// How long the sink waits for a callback: ample for the receiver's real answers even
/// on a loaded machine (a timeout after the receiver accepted would cause a duplicate
/// delivery, which at-least-once delivery permits but this test counts as a failure).
/// The stalling fault answers only long after it.
const SINK_TIMEOUT: Duration = Duration::from_secs(1);
const STALL: Duration = Duration::from_secs(4);
/// The bound of every wait for the engine or the receiver.
const WAIT: Duration = Duration::from_secs(30);

/// What the receiver does with one delivery attempt instead of accepting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Answer 503 Service Unavailable.
    Refuse,
    /// Answer only after the sink has given up.
    Stall,
    /// Close the connection without answering.
    HangUp,
}

/// How one POST ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Accepted,
    Failed(Fault),
}

/// One POST the receiver saw.
#[derive(Debug, Clone)]
struct Attempt {
    path: String,
    id: String,
    body: Value,
    outcome: Outcome,
}

/// The callback's memory, and its plan of faults.
#[derive(Debug, Default)]
struct Receiver {
    /// Faults by the position of a notification `id` among the ids seen so far.
    plan: HashMap<usize, Vec<Fault>>,
    state: Mutex<ReceiverState>,
}

#[derive(Debug, Default)]
struct ReceiverState {
    /// Distinct notification ids in the order of their first attempt.
    seen: Vec<String>,
    /// Faults still to inflict, by notification id.
    pending: HashMap<String, VecDeque<Fault>>,
    attempts: Vec<Attempt>,
    /// Callback checks (GET) that carried the right credentials.
    checks: Vec<String>,
    /// Requests without the right credentials.
    unauthorized: usize,
}

impl Receiver {
    fn with_plan(plan: impl IntoIterator<Item = (usize, Vec<Fault>)>) -> Self {
        Self {
            plan: plan.into_iter().collect(),
            state: Mutex::default(),
        }
    }

    fn faults_planned(&self) -> usize {
        self.plan.values().map(Vec::len).sum()
    }

    /// Records an attempt and decides its fate.
    fn attempt(&self, path: &str, body: Value) -> Outcome {
        let id = body
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let mut state = self.state.lock().expect("receiver state");
        if !state.seen.contains(&id) {
            let position = state.seen.len();
            state.seen.push(id.clone());
            let faults = self.plan.get(&position).cloned().unwrap_or_default();
            state.pending.insert(id.clone(), faults.into());
        }
        let fault = state.pending.get_mut(&id).and_then(VecDeque::pop_front);
        let outcome = fault.map_or(Outcome::Accepted, Outcome::Failed);
        state.attempts.push(Attempt {
            path: path.to_owned(),
            id,
            body,
            outcome,
        });
        outcome
    }

    fn attempts(&self) -> Vec<Attempt> {
        self.state.lock().expect("receiver state").attempts.clone()
    }

    /// The accepted notifications of one subscription, in the order they arrived.
    fn accepted(&self, subscription_id: &str) -> Vec<Attempt> {
        self.attempts()
            .into_iter()
            .filter(|a| a.outcome == Outcome::Accepted)
            .filter(|a| a.body["subscriptionId"] == subscription_id)
            .collect()
    }
}

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .is_some_and(|value| value == AUTHORIZATION)
}

async fn check(
    State(receiver): State<Arc<Receiver>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> StatusCode {
    let mut state = receiver.state.lock().expect("receiver state");
    if !authorized(&headers) {
        state.unauthorized += 1;
        return StatusCode::UNAUTHORIZED;
    }
    state.checks.push(name);
    StatusCode::NO_CONTENT
}

async fn deliver(
    State(receiver): State<Arc<Receiver>>,
    Extension(hang_up): Extension<Arc<Notify>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    if !authorized(&headers) {
        receiver.state.lock().expect("receiver state").unauthorized += 1;
        return StatusCode::UNAUTHORIZED;
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match receiver.attempt(&name, body) {
        Outcome::Accepted => StatusCode::NO_CONTENT,
        Outcome::Failed(Fault::Refuse) => StatusCode::SERVICE_UNAVAILABLE,
        Outcome::Failed(Fault::Stall) => {
            tokio::time::sleep(STALL).await;
            StatusCode::SERVICE_UNAVAILABLE
        }
        Outcome::Failed(Fault::HangUp) => {
            hang_up.notify_one();
            std::future::pending().await
        }
    }
}

/// Serves the receiver on 127.0.0.1 until the test's runtime ends. Each connection is
/// served on its own, so that a handler can close the one it answers on.
async fn serve(receiver: Arc<Receiver>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let address = listener.local_addr().expect("the bound address");
    let router = Router::new()
        .route("/notify/{name}", get(check).post(deliver))
        .with_state(receiver);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let hang_up = Arc::new(Notify::new());
            let service =
                TowerToHyperService::new(router.clone().layer(Extension(hang_up.clone())));
            tokio::spawn(async move {
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                // Dropping the connection closes the socket with the request unanswered.
                tokio::select! {
                    _ = connection => {}
                    () = hang_up.notified() => {}
                }
            });
        }
    });
    address
}

/// Runs the `instantiate_end` hook the test VNFD binds, doing nothing.
#[derive(Debug)]
struct QuietMgmt;

#[async_trait]
impl MgmtDriver for QuietMgmt {
    fn name(&self) -> &str {
        "mgmt_driver"
    }

    async fn run_hook(&self, _ctx: &MgmtContext<'_>) -> tacker_core::Result<MgmtOutcome> {
        Ok(MgmtOutcome::default())
    }
}

/// A VNFM on a memory store with the test package onboarded, the simulated VIM,
/// and an HTTP sink with a short timeout; notification retries back off from 20 ms to
/// at most 200 ms.
async fn engine(tenant: &TenantId) -> Vnfm {
    let sink = HttpNotificationSink::builder()
        .timeout(SINK_TIMEOUT)
        .connect_timeout(SINK_TIMEOUT)
        .build()
        .expect("a sink");
    let vnfm = Vnfm::builder()
        .vim_type(SimInfraDriver::new().as_vim_type())
        .mgmt_driver(Arc::new(QuietMgmt))
        .default_vim("vim1", sample_vim())
        .notification_sink(Arc::new(sink))
        .lcm_config(LcmConfig {
            poll_interval: Duration::from_millis(20),
            ..LcmConfig::default()
        })
        .sender_config(
            SenderConfig::default()
                .with_backoff(Duration::from_millis(20), Duration::from_millis(200)),
        )
        .build()
        .expect("a VNFM");
    let packages = vnfm.packages();
    let package = packages
        .create(tenant, CreateVnfPkgInfoRequest::default())
        .await
        .expect("a package");
    packages
        .upload_content(tenant, &package.id, package_zip())
        .await
        .expect("the package onboards");
    vnfm
}

fn subscription_request(
    address: SocketAddr,
    name: &str,
    filter: Option<LifecycleChangeNotificationsFilter>,
) -> LccnSubscriptionRequest {
    LccnSubscriptionRequest {
        filter,
        callback_uri: format!("http://{address}/notify/{name}"),
        authentication: Some(SubscriptionAuthentication {
            auth_type: vec![AuthType::Basic],
            params_basic: Some(ParamsBasic {
                user_name: Some(USER.to_owned()),
                password: Some(PASSWORD.to_owned()),
            }),
            params_oauth2_client_credentials: None,
        }),
        verbosity: None,
    }
}

/// Runs an accepted operation to its end; it must complete.
async fn complete(
    lcm: &VnfLcm,
    tenant: &TenantId,
    accepted: tacker_core::Result<VnfLcmOpOcc>,
) -> VnfLcmOpOcc {
    let op = accepted.expect("the operation is accepted");
    let done = lcm
        .wait_for(tenant, &op.id, &[], WAIT)
        .await
        .expect("the operation ends in time");
    assert_eq!(
        done.operation_state,
        LcmOperationStateType::Completed,
        "{:?}",
        done.error
    );
    done
}

/// A notification as this test expects it: its type, and for an operation occurrence
/// notification the occurrence, its operation and its state.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Expected {
    notification_type: String,
    op: Option<(String, String, String)>,
}

/// The JSON name of an enum value.
macro_rules! json_name {
    ($value:expr) => {
        match serde_json::json!($value) {
            Value::String(name) => name,
            other => panic!("{other} is not a string"),
        }
    };
}

fn identifier(kind: LcmNotificationType) -> Expected {
    Expected {
        notification_type: json_name!(kind),
        op: None,
    }
}

/// STARTING, PROCESSING and COMPLETED of one operation occurrence.
fn lifecycle(op: &VnfLcmOpOcc) -> Vec<Expected> {
    [
        LcmOperationStateType::Starting,
        LcmOperationStateType::Processing,
        LcmOperationStateType::Completed,
    ]
    .into_iter()
    .map(|state| Expected {
        notification_type: json_name!(LcmNotificationType::VnfLcmOperationOccurrenceNotification),
        op: Some((op.id.clone(), json_name!(op.operation), json_name!(state))),
    })
    .collect()
}

fn as_expected(body: &Value) -> Expected {
    let text = |key: &str| body[key].as_str().unwrap_or_default().to_owned();
    let notification_type = text("notificationType");
    let op = (notification_type
        == json_name!(LcmNotificationType::VnfLcmOperationOccurrenceNotification))
    .then(|| {
        (
            text("vnfLcmOpOccId"),
            text("operation"),
            text("operationState"),
        )
    });
    Expected {
        notification_type,
        op,
    }
}

/// Polls until `ready` holds, failing the test after [`WAIT`].
async fn eventually(what: &str, ready: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !ready() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} did not happen within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Checks what one subscription's callback accepted against what it should have got.
fn check_subscription(
    receiver: &Receiver,
    subscription: &LccnSubscription,
    path: &str,
    instance_id: &str,
    expected: &[Expected],
) {
    let accepted = receiver.accepted(&subscription.id);
    let ids: Vec<&str> = accepted.iter().map(|a| a.id.as_str()).collect();
    let distinct: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        ids.len(),
        "a notification came twice: {ids:?}"
    );
    assert!(
        ids.iter().all(|id| !id.is_empty()),
        "every notification has an id"
    );
    let got: Vec<Expected> = accepted.iter().map(|a| as_expected(&a.body)).collect();
    assert_eq!(got, expected, "the notifications of {path}, in order");
    let mut previous = None;
    for attempt in &accepted {
        assert_eq!(
            attempt.path, path,
            "delivered to the subscription's callback"
        );
        assert_eq!(attempt.body["vnfInstanceId"], instance_id);
        let stamp = attempt.body["timeStamp"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .expect("an RFC 3339 timeStamp");
        assert!(
            previous.is_none_or(|p| p <= stamp),
            "timeStamps go forward in delivery order"
        );
        previous = Some(stamp);
        let links = &attempt.body["_links"];
        assert_eq!(links["subscription"]["href"], subscription.links.self_.href);
        if let Some(status) = attempt.body.get("notificationStatus") {
            let state = attempt.body["operationState"].as_str();
            let want = if state == Some("COMPLETED") {
                "RESULT"
            } else {
                "START"
            };
            assert_eq!(status, want, "notificationStatus of {state:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_notification_arrives_once_and_in_order_despite_failed_deliveries() {
    // The first notification is refused three times; the 5th to arrive stalls past the
    // sink's timeout, the 8th is hung up on, the 13th refused once more.
    let receiver = Arc::new(Receiver::with_plan([
        (0, vec![Fault::Refuse, Fault::Refuse, Fault::Refuse]),
        (4, vec![Fault::Stall]),
        (7, vec![Fault::HangUp]),
        (12, vec![Fault::Refuse]),
    ]));
    let address = serve(receiver.clone()).await;
    let tenant = TenantId::default();
    let vnfm = engine(&tenant).await;
    vnfm.start().await.expect("the VNFM starts");
    let lcm = vnfm.lcm().clone();

    let all = lcm
        .subscriptions()
        .subscribe(&tenant, subscription_request(address, "all", None))
        .await
        .expect("the subscription to everything");
    let scale_filter = LifecycleChangeNotificationsFilter {
        notification_types: vec![LcmNotificationType::VnfLcmOperationOccurrenceNotification],
        operation_types: vec![LcmOperationType::Scale],
        ..LifecycleChangeNotificationsFilter::default()
    };
    let scale_only = lcm
        .subscriptions()
        .subscribe(
            &tenant,
            subscription_request(address, "scale", Some(scale_filter)),
        )
        .await
        .expect("the subscription to scaling");
    assert_eq!(
        receiver.state.lock().expect("receiver state").checks,
        ["all", "scale"],
        "each callback is checked with GET before its subscription exists"
    );

    let instance = lcm
        .create_vnf(
            &tenant,
            CreateVnfRequest {
                vnfd_id: VNFD_ID.to_owned(),
                vnf_instance_name: Some("notified".to_owned()),
                ..CreateVnfRequest::default()
            },
        )
        .await
        .expect("a VNF identifier");
    let instantiate = InstantiateVnfRequest {
        flavour_id: "simple".to_owned(),
        ..InstantiateVnfRequest::default()
    };
    let instantiated = complete(
        &lcm,
        &tenant,
        lcm.instantiate(&tenant, &instance.id, instantiate).await,
    )
    .await;
    let scale_out = ScaleVnfRequest {
        scale_type: ScaleType::ScaleOut,
        aspect_id: "worker".to_owned(),
        number_of_steps: Some(1),
        additional_params: Default::default(),
    };
    let scaled = complete(
        &lcm,
        &tenant,
        lcm.scale(&tenant, &instance.id, scale_out).await,
    )
    .await;
    let terminate = TerminateVnfRequest {
        termination_type: TerminationType::Forceful,
        graceful_termination_timeout: None,
        additional_params: Default::default(),
    };
    let terminated = complete(
        &lcm,
        &tenant,
        lcm.terminate(&tenant, &instance.id, terminate).await,
    )
    .await;
    lcm.delete_vnf(&tenant, &instance.id)
        .await
        .expect("the VNF identifier is deleted");

    let mut expected_all = vec![identifier(
        LcmNotificationType::VnfIdentifierCreationNotification,
    )];
    for op in [&instantiated, &scaled, &terminated] {
        expected_all.extend(lifecycle(op));
    }
    expected_all.push(identifier(
        LcmNotificationType::VnfIdentifierDeletionNotification,
    ));
    let expected_scale = lifecycle(&scaled);
    let total = expected_all.len() + expected_scale.len();

    eventually("the delivery of every notification", || {
        receiver.accepted(&all.id).len() >= expected_all.len()
            && receiver.accepted(&scale_only.id).len() >= expected_scale.len()
    })
    .await;
    // Long enough for a duplicate or a stray notification to turn up.
    tokio::time::sleep(Duration::from_millis(600)).await;
    vnfm.shutdown().await;

    check_subscription(&receiver, &all, "all", &instance.id, &expected_all);
    check_subscription(
        &receiver,
        &scale_only,
        "scale",
        &instance.id,
        &expected_scale,
    );

    let attempts = receiver.attempts();
    let state = receiver.state.lock().expect("receiver state");
    assert_eq!(
        state.unauthorized, 0,
        "every request carried the BASIC credentials"
    );
    assert_eq!(
        state.seen.len(),
        total,
        "no notification beyond the expected ones"
    );
    drop(state);
    let failed: Vec<&Attempt> = attempts
        .iter()
        .filter(|a| matches!(a.outcome, Outcome::Failed(_)))
        .collect();
    assert_eq!(
        failed.len(),
        receiver.faults_planned(),
        "every planned fault was met by a delivery attempt: {failed:?}"
    );
    for fault in [Fault::Refuse, Fault::Stall, Fault::HangUp] {
        assert!(
            failed.iter().any(|a| a.outcome == Outcome::Failed(fault)),
            "a delivery met {fault:?}"
        );
    }
    for attempt in &failed {
        let redelivered: Vec<&Attempt> = attempts
            .iter()
            .filter(|a| a.id == attempt.id && a.outcome == Outcome::Accepted)
            .collect();
        assert_eq!(
            redelivered.len(),
            1,
            "notification {} failed with {:?} and was then accepted once",
            attempt.id,
            attempt.outcome
        );
        assert_eq!(
            redelivered[0].body, attempt.body,
            "a retried notification is sent again unchanged, id included"
        );
        assert_eq!(redelivered[0].path, attempt.path);
    }
}
