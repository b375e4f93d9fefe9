//! `/vnffm/v1` and the Alertmanager webhook on a running server: alerts posted over
//! HTTP raise and clear alarms, which the API lists, filters and acknowledges, and
//! whose AlarmNotification and AlarmClearedNotification reach a local callback over
//! HTTP.

use std::io::{Cursor, Write};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use bytes::Bytes;
use serde_json::{Value, json};
use tacker_api::{Api, ApiConfig, HttpNotificationSink};
use tacker_core::lcm::LcmConfig;
use tacker_core::mgmt::{MgmtContext, MgmtDriver, MgmtOutcome};
use tacker_core::model::{CreateVnfPkgInfoRequest, CreateVnfRequest, InstantiateVnfRequest};
use tacker_core::monitor::AlertmanagerMonitor;
use tacker_core::notify::SenderConfig;
use tacker_core::sim::{SimInfraDriver, sample_vim};
use tacker_core::{TenantId, Vnfm};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use zip::ZipWriter;
use zip::write::SimpleFileOptions;

const TOP: &str = include_str!("../../tacker-core/tests/vnfd/top.yaml");
const TYPES: &str = include_str!("../../tacker-core/tests/vnfd/types.yaml");
const FLAVOUR: &str = include_str!("../../tacker-core/tests/vnfd/df_simple.yaml");
const SCRIPT: &str = "print('hook')\n";
const VNFD_ID: &str = "0b6b8a2e-0000-4000-8000-000000000001";
const WAIT: Duration = Duration::from_secs(30);

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

fn package_zip() -> Bytes {
    let mut reader = SCRIPT.as_bytes();
    let digest =
        tacker_core::csar::digest_hex(tacker_core::csar::HashAlgorithm::Sha256, &mut reader)
            .expect("digest");
    let meta = "TOSCA-Meta-File-Version: 1.0\nCSAR-Version: 1.1\nCreated-by: tacker-api tests\n\
                Entry-Definitions: Definitions/top.yaml\nETSI-Entry-Manifest: manifest.mf\n";
    let manifest = format!(
        "metadata:\n  vnf_provider_id: Example\n  vnf_product_name: Reader Test VNF\n  \
         vnf_release_date_time: 2026-01-01T00:00:00+00:00\n  vnf_package_version: 1.0\n  \
         compatible_specification_versions: 3.3.1\n\n\
         Source: Scripts/mgmt.py\nAlgorithm: SHA-256\nHash: {digest}\n"
    );
    let files = [
        ("TOSCA-Metadata/TOSCA.meta", meta),
        ("manifest.mf", &manifest),
        ("Definitions/top.yaml", TOP),
        ("Definitions/types.yaml", TYPES),
        ("Definitions/df_simple.yaml", FLAVOUR),
        ("Scripts/mgmt.py", SCRIPT),
    ];
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, content) in files {
        zip.start_file(name, SimpleFileOptions::default())
            .expect("zip entry");
        zip.write_all(content.as_bytes()).expect("zip content");
    }
    Bytes::from(zip.finish().expect("zip").into_inner())
}

/// The notifications a callback received.
#[derive(Debug, Default)]
struct Received(Mutex<Vec<Value>>);

async fn callback_check() -> StatusCode {
    StatusCode::NO_CONTENT
}

async fn callback(State(received): State<Arc<Received>>, body: Bytes) -> StatusCode {
    if let Ok(value) = serde_json::from_slice::<Value>(&body) {
        received.0.lock().expect("received").push(value);
    }
    StatusCode::NO_CONTENT
}

async fn serve(router: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    address
}

/// One HTTP/1.1 request over a fresh connection; the status and the JSON body.
async fn request(
    server: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut stream = TcpStream::connect(server).await.expect("connect");
    let body = body.map(Value::to_string).unwrap_or_default();
    let content_type = if body.is_empty() {
        String::new()
    } else if method == "PATCH" {
        "Content-Type: application/merge-patch+json\r\n".to_owned()
    } else {
        "Content-Type: application/json\r\n".to_owned()
    };
    // Alertmanager sends no Version header; the ETSI API requires one.
    let version = if path.starts_with("/vnffm") {
        "Version: 1.5.0\r\n"
    } else {
        ""
    };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {server}\r\n{version}Accept: application/json\r\n{content_type}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("send");
    stream.write_all(body.as_bytes()).await.expect("send");
    let mut answer = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut answer))
        .await
        .expect("an answer in time")
        .expect("read");
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let json = text
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str(body).ok())
        .unwrap_or(Value::Null);
    (status, json)
}

async fn wait_for_notification(received: &Received, kind: &str) -> Value {
    for _ in 0..600 {
        if let Some(found) = received
            .0
            .lock()
            .expect("received")
            .iter()
            .find(|n| n["notificationType"] == kind)
            .cloned()
        {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no {kind} arrived");
}

fn alert(status: &str, instance: &str, vnfc: &str) -> Value {
    json!({
        "version": "4",
        "groupKey": "{}:{alertname=\"VnfcDown\"}",
        "status": status,
        "receiver": "tacker",
        "groupLabels": {"alertname": "VnfcDown"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://127.0.0.1:9093",
        "alerts": [{
            "status": status,
            "labels": {"alertname": "VnfcDown", "severity": "critical",
                       "vnf_instance_id": instance, "vnfc_id": vnfc},
            "annotations": {"summary": "the VNFC does not answer"},
            "startsAt": "2026-12-05T06:00:00Z",
            "endsAt": if status == "resolved" { "2026-12-05T06:05:00Z" } else { "0001-01-01T00:00:00Z" },
            "generatorURL": "http://127.0.0.1:9090/graph",
            "fingerprint": "0123456789abcdef",
        }],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_become_alarms_that_the_fm_api_serves_and_notifies() {
    let tenant = TenantId::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let server = listener.local_addr().expect("address");
    let alertmanager = Arc::new(AlertmanagerMonitor::new());
    let vnfm = Vnfm::builder()
        .api_root(format!("http://{server}"))
        .vim_type(SimInfraDriver::default().as_vim_type())
        .mgmt_driver(Arc::new(QuietMgmt))
        .default_vim("vim1", sample_vim())
        .notification_sink(Arc::new(
            HttpNotificationSink::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("sink"),
        ))
        .monitor(alertmanager.clone())
        .lcm_config(LcmConfig {
            poll_interval: Duration::from_millis(20),
            ..LcmConfig::default()
        })
        .sender_config(
            SenderConfig::default()
                .with_backoff(Duration::from_millis(20), Duration::from_secs(60)),
        )
        .build()
        .expect("vnfm");
    let packages = vnfm.packages();
    let package = packages
        .create(&tenant, CreateVnfPkgInfoRequest::default())
        .await
        .expect("package");
    packages
        .upload_content(&tenant, &package.id, package_zip())
        .await
        .expect("onboard");
    vnfm.start().await.expect("start");
    let lcm = vnfm.lcm().clone();
    let router = Api::new(&vnfm, ApiConfig::default())
        .with_alertmanager(alertmanager)
        .router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });

    let received = Arc::new(Received::default());
    let receiver = serve(
        Router::new()
            .route("/fm", get(callback_check).post(callback))
            .with_state(received.clone()),
    )
    .await;

    // Subscribe.
    let (status, subscription) = request(
        server,
        "POST",
        "/vnffm/v1/subscriptions",
        Some(&json!({"callbackUri": format!("http://{receiver}/fm"),
                     "filter": {"notificationTypes": ["AlarmNotification", "AlarmClearedNotification"]}})),
    )
    .await;
    assert_eq!(status, 201, "{subscription}");
    let subscription_id = subscription["id"].as_str().expect("id").to_owned();
    assert_eq!(
        subscription["_links"]["self"]["href"],
        format!("http://{server}/vnffm/v1/subscriptions/{subscription_id}")
    );

    // An instance that asks for Alertmanager monitoring.
    let instance = lcm
        .create_vnf(
            &tenant,
            CreateVnfRequest {
                vnfd_id: VNFD_ID.into(),
                ..CreateVnfRequest::default()
            },
        )
        .await
        .expect("create");
    let properties = json!({"monitoring": {"alertmanager": {}}});
    let op = lcm
        .instantiate(
            &tenant,
            &instance.id,
            InstantiateVnfRequest {
                flavour_id: "simple".into(),
                vnf_configurable_properties: serde_json::from_value(properties).expect("object"),
                ..InstantiateVnfRequest::default()
            },
        )
        .await
        .expect("instantiate");
    lcm.wait_for(&tenant, &op.id, &[], WAIT)
        .await
        .expect("instantiated");
    let vnfc = lcm
        .instance(&tenant, &instance.id)
        .await
        .expect("instance")
        .instantiated_vnf_info
        .expect("info")
        .vnfc_resource_info[0]
        .id
        .clone();

    // The health service starts watching once instantiate completes.
    let mut accepted = Value::Null;
    for _ in 0..600 {
        let (status, answer) = request(
            server,
            "POST",
            "/monitoring/v1/alertmanager",
            Some(&alert("firing", &instance.id, &vnfc)),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        if answer["healthEvents"] == 1 {
            accepted = answer;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(accepted["ignored"], 0, "{accepted}");

    let raised = wait_for_notification(&received, "AlarmNotification").await;
    assert_eq!(raised["subscriptionId"], subscription_id.as_str());
    assert_eq!(raised["alarm"]["managedObjectId"], instance.id.as_str());
    assert_eq!(raised["alarm"]["perceivedSeverity"], "CRITICAL");
    assert_eq!(raised["alarm"]["probableCause"], "VnfcDown");
    assert_eq!(raised["alarm"]["ackState"], "UNACKNOWLEDGED");
    let alarm_id = raised["alarm"]["id"].as_str().expect("alarm id").to_owned();

    // List, filter, read.
    let (status, alarms) = request(server, "GET", "/vnffm/v1/alarms", None).await;
    assert_eq!(status, 200);
    assert_eq!(alarms.as_array().map(Vec::len), Some(1), "{alarms}");
    let (_, critical) = request(
        server,
        "GET",
        "/vnffm/v1/alarms?filter=(eq,perceivedSeverity,CRITICAL)",
        None,
    )
    .await;
    assert_eq!(critical.as_array().map(Vec::len), Some(1));
    let (_, elsewhere) = request(
        server,
        "GET",
        "/vnffm/v1/alarms?filter=(eq,managedObjectId,another-instance)",
        None,
    )
    .await;
    assert_eq!(elsewhere.as_array().map(Vec::len), Some(0));
    let (status, bad) = request(server, "GET", "/vnffm/v1/alarms?filter=(eq,", None).await;
    assert_eq!(status, 400, "{bad}");
    let (status, alarm) =
        request(server, "GET", &format!("/vnffm/v1/alarms/{alarm_id}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        alarm["_links"]["objectInstance"]["href"],
        format!("http://{server}/vnflcm/v2/vnf_instances/{}", instance.id)
    );
    let (status, _) = request(server, "GET", "/vnffm/v1/alarms/no-such-alarm", None).await;
    assert_eq!(status, 404);

    // Acknowledge, once.
    let ack = json!({"ackState": "ACKNOWLEDGED"});
    let (status, answer) = request(
        server,
        "PATCH",
        &format!("/vnffm/v1/alarms/{alarm_id}"),
        Some(&ack),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, ack);
    let (status, answer) = request(
        server,
        "PATCH",
        &format!("/vnffm/v1/alarms/{alarm_id}"),
        Some(&ack),
    )
    .await;
    assert_eq!(status, 409, "{answer}");
    let (status, _) = request(
        server,
        "PATCH",
        &format!("/vnffm/v1/alarms/{alarm_id}"),
        Some(&json!({"ackState": "MAYBE"})),
    )
    .await;
    assert_eq!(status, 400);
    let (_, alarm) = request(server, "GET", &format!("/vnffm/v1/alarms/{alarm_id}"), None).await;
    assert_eq!(alarm["ackState"], "ACKNOWLEDGED");
    assert!(alarm["alarmAcknowledgedTime"].is_string());

    // Resolved, the alarm clears.
    let (status, answer) = request(
        server,
        "POST",
        "/monitoring/v1/alertmanager",
        Some(&alert("resolved", &instance.id, &vnfc)),
    )
    .await;
    assert_eq!((status, answer["healthEvents"].clone()), (200, json!(1)));
    let cleared = wait_for_notification(&received, "AlarmClearedNotification").await;
    assert_eq!(cleared["alarmId"], alarm_id.as_str());
    assert_eq!(
        cleared["_links"]["alarm"]["href"],
        format!("http://{server}/vnffm/v1/alarms/{alarm_id}")
    );
    let (_, alarm) = request(server, "GET", &format!("/vnffm/v1/alarms/{alarm_id}"), None).await;
    assert_eq!(alarm["perceivedSeverity"], "CLEARED");
    assert!(alarm["alarmClearedTime"].is_string());

    // Alerts about instances nobody watches are ignored.
    let (status, answer) = request(
        server,
        "POST",
        "/monitoring/v1/alertmanager",
        Some(&alert("firing", "not-watched", "x")),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["ignored"], 1);

    // Subscriptions: list, read, delete.
    let (status, list) = request(server, "GET", "/vnffm/v1/subscriptions", None).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    let path = format!("/vnffm/v1/subscriptions/{subscription_id}");
    let (status, _) = request(server, "DELETE", &path, None).await;
    assert_eq!(status, 204);
    let (status, _) = request(server, "GET", &path, None).await;
    assert_eq!(status, 404);

    vnfm.shutdown().await;
}
