//! End to end over HTTP: a VNF instantiated through the `vnfm` binary on the simulated
//! VIM, its web VNFC's health endpoint a local HTTP server. The test stops that server;
//! the VNFM raises an alarm, heals the VNFC on its own (an op occurrence with
//! `isAutomaticInvocation`, notified), the simulated VIM gives the replacement an
//! address where a healthy server answers, and the alarm clears.

mod common;

use std::net::SocketAddr;

use axum::http::StatusCode;
use common::{Client, Receiver, Server, temp_dir};
use serde_json::{Value, json};
use tokio::net::TcpListener;

const FIRST: &str = "127.82.0.10";
const SECOND: &str = "127.82.0.11";

/// A health endpoint on `address` answering 200 to everything.
async fn health_server(address: SocketAddr) -> tokio::task::JoinHandle<()> {
    let listener = TcpListener::bind(address)
        .await
        .expect("bind health server");
    let app = axum::Router::new().fallback(|| async { StatusCode::OK });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    })
}

fn web_address(instance: &Value) -> Option<String> {
    instance["instantiatedVnfInfo"]["vnfcResourceInfo"]
        .as_array()?
        .iter()
        .find(|v| v["vduId"] == "WEB")?["vnfcCpInfo"][0]["cpProtocolInfo"][0]["ipOverEthernet"]
        ["ipAddresses"][0]["addresses"][0]
        .as_str()
        .map(str::to_owned)
}

fn of_type<'a>(notifications: &'a [Value], kind: &str) -> Vec<&'a Value> {
    notifications
        .iter()
        .filter(|n| n["notificationType"] == kind)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vnfc_whose_health_endpoint_dies_is_healed_automatically() {
    let first: std::net::IpAddr = FIRST.parse().expect("address");
    let second: std::net::IpAddr = SECOND.parse().expect("address");
    let port = TcpListener::bind(SocketAddr::new(first, 0))
        .await
        .expect("bind")
        .local_addr()
        .expect("address")
        .port();
    let server_a = health_server(SocketAddr::new(first, port)).await;
    let server_b = health_server(SocketAddr::new(second, port)).await;

    let data = temp_dir("e2e-autoheal");
    let addresses = format!("WEB={FIRST},{SECOND}");
    let server = Server::start(
        &data,
        &[
            "--sim-vdu-addresses",
            &addresses,
            "--sim-heal-readdresses",
            "--autoheal-window-ms",
            "300",
        ],
    );
    let api = Client::new(&server.url);
    let receiver = Receiver::start().await;
    for path in ["/vnflcm/v2/subscriptions", "/vnffm/v1/subscriptions"] {
        let subscribed = api
            .post(path, json!({"callbackUri": receiver.callback}))
            .await;
        assert_eq!(
            subscribed.status,
            StatusCode::CREATED,
            "{:?}",
            subscribed.body
        );
    }
    let package_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("packages/sample-vnf");
    let package = api.onboard(&package_dir).await;
    let created = api
        .post(
            "/vnflcm/v2/vnf_instances",
            json!({"vnfdId": package["vnfdId"], "vnfInstanceName": "monitored"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    let accepted = api
        .post(
            &format!("/vnflcm/v2/vnf_instances/{id}/instantiate"),
            json!({
                "flavourId": "simple",
                "vnfConfigurableProperties": {
                    "isAutohealEnabled": true,
                    "monitoring": {"http": {
                        "url": format!("http://{{address}}:{port}/health"),
                        "vduIds": ["WEB"],
                        "intervalMs": 100, "timeoutMs": 2000, "failureThreshold": 2,
                    }},
                },
            }),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{:?}", accepted.body);
    let op = api.wait_for_op(&accepted.location()).await;
    assert_eq!(op["operationState"], "COMPLETED", "{op}");
    let instance = api.get(&format!("/vnflcm/v2/vnf_instances/{id}")).await;
    assert_eq!(web_address(&instance.body).as_deref(), Some(FIRST));

    // The web VNFC's endpoint dies.
    server_a.abort();
    let _ = server_a.await;

    let all = receiver
        .wait_until(
            "the alarm, the automatic heal and the cleared alarm",
            |all| {
                !of_type(all, "AlarmClearedNotification").is_empty()
                    && of_type(all, "VnfLcmOperationOccurrenceNotification")
                        .iter()
                        .any(|n| n["operation"] == "HEAL" && n["operationState"] == "COMPLETED")
            },
        )
        .await;
    let raised = of_type(&all, "AlarmNotification");
    assert_eq!(raised.len(), 1, "{raised:#?}");
    assert_eq!(raised[0]["alarm"]["managedObjectId"], id.as_str());
    let alarm_id = raised[0]["alarm"]["id"]
        .as_str()
        .expect("alarm id")
        .to_owned();
    let heals: Vec<&Value> = of_type(&all, "VnfLcmOperationOccurrenceNotification")
        .into_iter()
        .filter(|n| n["operation"] == "HEAL")
        .collect();
    assert!(!heals.is_empty());
    assert!(
        heals.iter().all(|n| n["isAutomaticInvocation"] == true),
        "{heals:#?}"
    );
    let cleared = of_type(&all, "AlarmClearedNotification");
    assert_eq!(cleared[0]["alarmId"], alarm_id.as_str());

    // The op occurrence says it was automatic; the VNFC answers at its new address.
    let ops = api
        .get(&format!(
            "/vnflcm/v2/vnf_lcm_op_occs?filter=(eq,vnfInstanceId,{id});(eq,operation,HEAL)"
        ))
        .await;
    let ops = ops.body.as_array().cloned().unwrap_or_default();
    assert_eq!(ops.len(), 1, "one heal: {ops:#?}");
    assert_eq!(ops[0]["isAutomaticInvocation"], true);
    assert_eq!(ops[0]["operationState"], "COMPLETED");
    let instance = api.get(&format!("/vnflcm/v2/vnf_instances/{id}")).await;
    assert_eq!(web_address(&instance.body).as_deref(), Some(SECOND));
    let alarm = api.get(&format!("/vnffm/v1/alarms/{alarm_id}")).await;
    assert_eq!(alarm.status, StatusCode::OK);
    assert_eq!(alarm.body["perceivedSeverity"], "CLEARED");
    assert!(alarm.body["alarmClearedTime"].is_string());

    assert!(server.terminate(), "the server stops cleanly");
    server_b.abort();
}
