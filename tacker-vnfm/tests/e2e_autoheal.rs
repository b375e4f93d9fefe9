//! End to end over HTTP: a VNF instantiated through the `vnfm` binary on the simulated
//! VIM, its web VNFC's health endpoint a local HTTP server. The test stops that server;
//! the VNFM raises an alarm, heals the VNFC on its own (an op occurrence with
//! `isAutomaticInvocation`, notified), the simulated VIM gives the replacement an
//! address where a healthy server answers, and the alarm clears. With no healthy
//! endpoint left it heals the VNFC twice more, then the whole VNF, then gives up with a
//! critical alarm. Restarted, it watches the VNF again.

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
    let args = [
        "--sim-vdu-addresses",
        &addresses,
        "--sim-heal-readdresses",
        "--autoheal-window-ms",
        "300",
    ];
    let server = Server::start(&data, &args);
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
    let package_dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/packages/sample-vnf");
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
            "/vnflcm/v2/vnf_lcm_op_occs?all_fields&filter=(eq,vnfInstanceId,{id});(eq,operation,HEAL)"
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

    // Now both endpoints are dead: each heal moves the VNFC to the other dead address,
    // so after two VNFC heals and one heal of the whole VNF the VNFM gives up with a
    // critical alarm.
    server_b.abort();
    let _ = server_b.await;
    let all = receiver
        .wait_until("the escalation alarm", |all| {
            of_type(all, "AlarmNotification")
                .iter()
                .any(|n| n["alarm"]["probableCause"] == "automatic healing failed")
        })
        .await;
    let escalation = of_type(&all, "AlarmNotification")
        .into_iter()
        .find(|n| n["alarm"]["probableCause"] == "automatic healing failed")
        .cloned()
        .expect("escalation");
    assert_eq!(escalation["alarm"]["perceivedSeverity"], "CRITICAL");
    assert_eq!(escalation["alarm"]["eventType"], "PROCESSING_ERROR_ALARM");
    let heal_ops = |ops: &Value| ops.as_array().cloned().unwrap_or_default();
    let ops = heal_ops(
        &api.get(&format!(
            "/vnflcm/v2/vnf_lcm_op_occs?all_fields&filter=(eq,vnfInstanceId,{id});(eq,operation,HEAL)"
        ))
        .await
        .body,
    );
    assert_eq!(
        ops.len(),
        4,
        "the first heal, two more of the VNFC, one of the VNF: {ops:#?}"
    );
    assert!(ops.iter().all(|op| op["isAutomaticInvocation"] == true));
    assert!(
        ops.iter().all(|op| op["operationState"] == "COMPLETED"),
        "{ops:#?}"
    );
    let whole = ops
        .iter()
        .filter(|op| op["operationParams"].get("vnfcInstanceId").is_none())
        .count();
    assert_eq!(whole, 1, "one heal of the whole VNF: {ops:#?}");
    // The VNFC's own alarm is still active.
    let active = api
        .get("/vnffm/v1/alarms?filter=(eq,probableCause,http%20health%20check%20failed)")
        .await;
    let active: Vec<Value> = active
        .body
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a["alarmClearedTime"].is_null())
        .collect();
    assert_eq!(active.len(), 1, "{active:#?}");
    let active_id = active[0]["id"].as_str().expect("id").to_owned();

    // Restarted, the VNFM watches the VNF again: once the VNFC answers at its current
    // address, its alarm and the escalation clear.
    assert!(server.terminate(), "the server stops cleanly");
    let server = Server::start(&data, &args);
    let api = Client::new(&server.url);
    let instance = api.get(&format!("/vnflcm/v2/vnf_instances/{id}")).await;
    let current: std::net::IpAddr = web_address(&instance.body)
        .expect("address")
        .parse()
        .expect("an IP address");
    let revived = health_server(SocketAddr::new(current, port)).await;
    receiver
        .wait_until("the VNFC's alarm cleared after the restart", |all| {
            of_type(all, "AlarmClearedNotification")
                .iter()
                .any(|n| n["alarmId"] == active_id.as_str())
                && of_type(all, "AlarmClearedNotification")
                    .iter()
                    .any(|n| n["alarmId"] == escalation["alarm"]["id"])
        })
        .await;
    let ops = heal_ops(
        &api.get(&format!(
            "/vnflcm/v2/vnf_lcm_op_occs?all_fields&filter=(eq,vnfInstanceId,{id});(eq,operation,HEAL)"
        ))
        .await
        .body,
    );
    assert_eq!(ops.len(), 4, "no heal after giving up: {ops:#?}");
    assert!(server.terminate(), "the server stops cleanly");
    revived.abort();
}
