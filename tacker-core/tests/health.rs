//! Health monitoring, fault management and automatic healing and scaling, on the
//! memory store and the simulated VIM, with real HTTP and TCP servers on loopback
//! addresses.

mod support;

use async_trait::async_trait;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use std::sync::Arc;
use std::time::Duration;
use tacker_core::testkit::netns::Namespace;

use chrono::Utc;
use tacker_core::Vnfm;
use tacker_core::lcm::{LcmConfig, VnfFm, VnfLcm};
use tacker_core::mgmt::{MgmtContext, MgmtDriver, MgmtOutcome};
use tacker_core::model::{
    AckState, AlarmModifications, CreateVnfPkgInfoRequest, CreateVnfRequest, FmSubscriptionRequest,
    InstantiateVnfRequest, KeyValuePairs, LccnSubscriptionRequest, LcmOperationStateType as State,
    LcmOperationType, PerceivedSeverityType, ScaleType, ScaleVnfRequest, VnfInstance,
};
use tacker_core::monitor::{
    AutoHealConfig, AutoHealPolicy, AutoScaleConfig, AutoScalePolicy, HealthConfig, HealthEvent,
    HealthService, HealthStatus, HttpMonitor, MonitorDriver, MonitorTarget, PingMonitor,
    PolicyAction, PolicyDriver, PolicyEvent, ScaleDirection,
};
use tacker_core::notify::{ChannelNotificationSink, NotificationTarget, SenderConfig};
use tacker_core::sim::{SimInfraDriver, SimOperation, sample_vim};
use tacker_core::store::ListQuery;
use tacker_core::{Error, TenantId};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(30);

#[derive(Debug)]
struct NoopMgmt;

#[async_trait]
impl MgmtDriver for NoopMgmt {
    fn name(&self) -> &str {
        "mgmt_driver"
    }

    async fn run_hook(&self, _ctx: &MgmtContext<'_>) -> tacker_core::Result<MgmtOutcome> {
        Ok(MgmtOutcome::default())
    }
}

type Notifications = mpsc::UnboundedReceiver<(NotificationTarget, serde_json::Value)>;

struct Fixture {
    vnfm: Vnfm,
    lcm: VnfLcm,
    fm: VnfFm,
    sim: SimInfraDriver,
    tenant: TenantId,
    notifications: Notifications,
}

async fn fixture(sim: SimInfraDriver) -> Fixture {
    let (sink, notifications) = ChannelNotificationSink::new();
    let vnfm = Vnfm::builder()
        .vim_type(sim.as_vim_type())
        .mgmt_driver(Arc::new(NoopMgmt))
        .notification_sink(Arc::new(sink))
        .default_vim("vim1", sample_vim())
        .lcm_config(LcmConfig {
            lease_ttl: Duration::from_secs(3),
            poll_interval: Duration::from_millis(20),
            ..LcmConfig::default()
        })
        .sender_config(
            SenderConfig::default()
                .with_backoff(Duration::from_millis(20), Duration::from_secs(60)),
        )
        .build()
        .expect("vnfm");
    let tenant = TenantId::default();
    let packages = vnfm.packages();
    let pkg = packages
        .create(&tenant, CreateVnfPkgInfoRequest::default())
        .await
        .expect("create package");
    packages
        .upload_content(&tenant, &pkg.id, support::package_zip(support::TOP))
        .await
        .expect("onboard");
    Fixture {
        lcm: vnfm.lcm().clone(),
        fm: vnfm.fm().clone(),
        vnfm,
        sim,
        tenant,
        notifications,
    }
}

/// A started VNFM (its executor and notification sender).
struct Started(Vnfm);

impl Started {
    async fn shutdown(self) {
        self.0.shutdown().await;
    }
}

impl Fixture {
    async fn start(&self) -> Started {
        self.vnfm.start().await.expect("start");
        Started(self.vnfm.clone())
    }

    /// A VNF instantiated with `properties` as its `vnfConfigurableProperties`.
    async fn instantiated(&self, properties: serde_json::Value) -> VnfInstance {
        let id = self
            .lcm
            .create_vnf(
                &self.tenant,
                CreateVnfRequest {
                    vnfd_id: support::VNFD_ID.into(),
                    vnf_instance_name: Some("monitored".into()),
                    ..CreateVnfRequest::default()
                },
            )
            .await
            .expect("create VNF")
            .id;
        let properties: KeyValuePairs =
            serde_json::from_value(properties).expect("properties are an object");
        let op = self
            .lcm
            .instantiate(
                &self.tenant,
                &id,
                InstantiateVnfRequest {
                    flavour_id: "simple".into(),
                    vnf_configurable_properties: properties,
                    ..InstantiateVnfRequest::default()
                },
            )
            .await
            .expect("instantiate accepted");
        let op = self
            .lcm
            .wait_for(&self.tenant, &op.id, &[], WAIT)
            .await
            .expect("instantiate ends");
        assert_eq!(op.operation_state, State::Completed, "{:?}", op.error);
        self.lcm
            .instance(&self.tenant, &id)
            .await
            .expect("instance")
    }

    async fn heals(&self, id: &str) -> Vec<tacker_core::model::VnfLcmOpOcc> {
        self.lcm
            .op_occs(&self.tenant, &ListQuery::all())
            .await
            .expect("op occurrences")
            .items
            .into_iter()
            .filter(|op| op.vnf_instance_id == id && op.operation == LcmOperationType::Heal)
            .collect()
    }

    /// Waits (bounded) until `done` holds for the instance's heals.
    async fn wait_heals(
        &self,
        id: &str,
        done: impl Fn(&[tacker_core::model::VnfLcmOpOcc]) -> bool,
    ) -> Vec<tacker_core::model::VnfLcmOpOcc> {
        for _ in 0..600 {
            let heals = self.heals(id).await;
            if done(&heals) {
                return heals;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the heals of {id} never reached the expected state");
    }

    /// The next notification of `kind`, skipping others (bounded).
    async fn notification(&mut self, kind: &str) -> serde_json::Value {
        for _ in 0..500 {
            let (_, payload) = tokio::time::timeout(WAIT, self.notifications.recv())
                .await
                .expect("a notification in time")
                .expect("notification channel open");
            if payload["notificationType"] == kind {
                return payload;
            }
        }
        panic!("no {kind} among 500 notifications");
    }
}

fn vnfc_ids(instance: &VnfInstance) -> Vec<String> {
    instance
        .instantiated_vnf_info
        .as_ref()
        .map(|i| i.vnfc_resource_info.iter().map(|v| v.id.clone()).collect())
        .unwrap_or_default()
}

fn address_of(instance: &VnfInstance) -> IpAddr {
    let endpoints = tacker_core::monitor::vnfc_endpoints(instance, None);
    endpoints.first().expect("a VNFC with an address").address
}

fn unhealthy(tenant: &TenantId, id: &str, vnfc: &str, at: chrono::DateTime<Utc>) -> HealthEvent {
    HealthEvent::new(
        tenant.clone(),
        id,
        HealthStatus::Unhealthy,
        "test",
        "injected failure",
    )
    .with_vnfc_id(Some(vnfc.to_owned()))
    .with_observed_at(at)
}

/// A tiny HTTP server on `address` answering every request with `status`.
async fn http_server(address: SocketAddr, status: u16) -> tokio::task::JoinHandle<()> {
    let listener = TcpListener::bind(address).await.expect("bind HTTP server");
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buffer = [0u8; 1024];
                let _ = stream.read(&mut buffer).await;
                let answer = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    })
}

async fn stop_server(server: tokio::task::JoinHandle<()>) {
    server.abort();
    let _ = server.await;
}

/// The next event from a monitor (bounded wait).
async fn next_event(events: &mut mpsc::Receiver<HealthEvent>) -> HealthEvent {
    tokio::time::timeout(WAIT, events.recv())
        .await
        .expect("a health event in time")
        .expect("the monitor is running")
}

/// A free port on `address` (bound once, then released).
async fn free_port(address: IpAddr) -> u16 {
    TcpListener::bind(SocketAddr::new(address, 0))
        .await
        .expect("bind")
        .local_addr()
        .expect("address")
        .port()
}

fn health_config() -> HealthConfig {
    HealthConfig {
        tick: Duration::from_millis(20),
        busy_retry: Duration::from_millis(50),
        ..HealthConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_monitor_follows_a_server_that_stops_and_starts() {
    let f = fixture(SimInfraDriver::default()).await;
    let executor = f.start().await;
    let instance = f.instantiated(serde_json::json!({})).await;
    let address = address_of(&instance);
    let port = free_port(address).await;
    let server = http_server(SocketAddr::new(address, port), 200).await;

    let monitor = HttpMonitor::new(4);
    let (tx, mut events) = mpsc::channel(64);
    let params = serde_json::json!({
        "url": format!("http://{{address}}:{port}/health"),
        "intervalMs": 50, "timeoutMs": 1000, "failureThreshold": 2,
    });
    monitor
        .watch(
            MonitorTarget::new(
                f.tenant.clone(),
                instance.clone(),
                serde_json::from_value(params).expect("params"),
            ),
            tx,
        )
        .await
        .expect("watch");
    let vnfc = vnfc_ids(&instance).remove(0);
    let event = next_event(&mut events).await;
    assert_eq!(event.status, HealthStatus::Healthy, "{}", event.reason);
    assert_eq!(event.vnfc_id.as_deref(), Some(vnfc.as_str()));
    assert_eq!(event.source, "http");

    stop_server(server).await;
    let event = next_event(&mut events).await;
    assert_eq!(event.status, HealthStatus::Unhealthy);
    assert!(
        event.reason.contains("2 times in a row"),
        "{}",
        event.reason
    );
    assert!(event.reason.contains("connecting"), "{}", event.reason);

    let server = http_server(SocketAddr::new(address, port), 200).await;
    let event = next_event(&mut events).await;
    assert_eq!(event.status, HealthStatus::Healthy, "{}", event.reason);
    stop_server(server).await;

    // The wrong status is a failure too.
    let server = http_server(SocketAddr::new(address, port), 503).await;
    let event = next_event(&mut events).await;
    assert_eq!(event.status, HealthStatus::Unhealthy);
    assert!(
        event.reason.contains("status 503, expected 200"),
        "{}",
        event.reason
    );

    // Stopped, the monitor lets go of the channel.
    monitor.stop(&f.tenant, &instance.id).await.expect("stop");
    for _ in 0..1000 {
        if events.recv().await.is_none() {
            break;
        }
    }
    assert!(events.recv().await.is_none(), "no events after stop");
    assert_eq!(monitor.watching(), 0);
    stop_server(server).await;

    // A URL that is not http:// is refused up front, naming the parameter.
    let (tx, _events) = mpsc::channel(1);
    let refused = monitor
        .watch(
            MonitorTarget::new(
                f.tenant.clone(),
                instance.clone(),
                serde_json::from_value(serde_json::json!({"url": "ftp://{address}/"}))
                    .expect("params"),
            ),
            tx,
        )
        .await;
    match refused {
        Err(Error::InvalidRequest(detail)) => {
            assert!(detail.contains("monitoring.http.url"), "{detail}");
        }
        other => panic!("expected InvalidRequest, got {other:?}"),
    }
    executor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_monitor_over_tcp_and_icmp_on_loopback() {
    let f = fixture(SimInfraDriver::default()).await;
    let executor = f.start().await;
    let instance = f.instantiated(serde_json::json!({})).await;
    let address = address_of(&instance);
    let port = free_port(address).await;
    let listener = TcpListener::bind(SocketAddr::new(address, port))
        .await
        .expect("bind");

    let monitor = PingMonitor::new(4);
    let (tx, mut events) = mpsc::channel(64);
    let target = |params: serde_json::Value| {
        MonitorTarget::new(
            f.tenant.clone(),
            instance.clone(),
            serde_json::from_value(params).expect("params"),
        )
    };
    monitor
        .watch(
            target(
                serde_json::json!({"mode": "tcp", "tcpPort": port, "intervalMs": 50,
                "timeoutMs": 1000, "failureThreshold": 3}),
            ),
            tx.clone(),
        )
        .await
        .expect("watch");
    let event = next_event(&mut events).await;
    assert_eq!(event.status, HealthStatus::Healthy, "{}", event.reason);
    drop(listener);
    let event = next_event(&mut events).await;
    assert_eq!(event.status, HealthStatus::Unhealthy);
    assert!(
        event.reason.contains("3 times in a row"),
        "{}",
        event.reason
    );
    assert!(event.reason.contains("TCP connect"), "{}", event.reason);
    let listener = TcpListener::bind(SocketAddr::new(address, port))
        .await
        .expect("bind again");
    let event = next_event(&mut events).await;
    assert_eq!(event.status, HealthStatus::Healthy, "{}", event.reason);
    drop(listener);
    monitor.stop(&f.tenant, &instance.id).await.expect("stop");

    if PingMonitor::icmp_allowed() {
        // ICMP echo to the VNFC's loopback address answers.
        let (tx, mut events) = mpsc::channel(64);
        monitor
            .watch(
                target(
                    serde_json::json!({"mode": "icmp", "count": 2, "intervalMs": 50,
                    "timeoutMs": 1000}),
                ),
                tx,
            )
            .await
            .expect("watch over ICMP");
        let event = next_event(&mut events).await;
        assert_eq!(event.status, HealthStatus::Healthy, "{}", event.reason);
        assert_eq!(event.source, "ping");
        monitor.stop(&f.tenant, &instance.id).await.expect("stop");
    } else {
        let (tx, _events) = mpsc::channel(1);
        let refused = monitor
            .watch(target(serde_json::json!({"mode": "icmp"})), tx)
            .await;
        assert!(
            matches!(refused, Err(Error::NotSupported(_))),
            "{refused:?}"
        );
    }
    // TCP without a port is refused up front.
    let (tx, _events) = mpsc::channel(1);
    let refused = monitor
        .watch(target(serde_json::json!({"mode": "tcp"})), tx)
        .await;
    assert!(
        matches!(refused, Err(Error::InvalidRequest(_))),
        "{refused:?}"
    );
    executor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_failures_in_one_second_heal_once() {
    let mut f = fixture(SimInfraDriver::default()).await;
    let executor = f.start().await;
    f.lcm
        .subscriptions()
        .subscribe(
            &f.tenant,
            LccnSubscriptionRequest {
                filter: None,
                callback_uri: "http://127.0.0.1:9/lccn".into(),
                authentication: None,
                verbosity: None,
            },
        )
        .await
        .expect("LCM subscription");
    let instance = f
        .instantiated(serde_json::json!({"isAutohealEnabled": true}))
        .await;
    let vnfc = vnfc_ids(&instance).remove(0);
    let health = HealthService::new(
        f.lcm.clone(),
        f.fm.clone(),
        Vec::new(),
        vec![Arc::new(AutoHealPolicy::new(AutoHealConfig {
            window: Duration::from_millis(1500),
            max_vnfc_heals: 2,
        }))],
        health_config(),
    );
    let handle = health.start().expect("start");
    let events = health.events();
    let start = Utc::now();
    for i in 0..20 {
        // Observed 50 ms apart: twenty failures in one second.
        let at = start + chrono::Duration::milliseconds(50 * i);
        events
            .send(unhealthy(&f.tenant, &instance.id, &vnfc, at))
            .await
            .expect("send");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let heals = f
        .wait_heals(&instance.id, |heals| {
            heals.iter().any(|h| h.operation_state == State::Completed)
        })
        .await;
    // The service handles events in order: once the failure's alarm is cleared, every
    // earlier event and the heal's completion have been handled.
    events
        .send(
            unhealthy(&f.tenant, &instance.id, &vnfc, Utc::now())
                .with_status(HealthStatus::Healthy),
        )
        .await
        .expect("send");
    for _ in 0..600 {
        let active =
            f.fm.alarms(&f.tenant, &ListQuery::all())
                .await
                .expect("alarms")
                .items
                .into_iter()
                .filter(|a| a.alarm_cleared_time.is_none())
                .count();
        if active == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let heals_after = f.heals(&instance.id).await;
    assert_eq!(heals.len(), 1, "one heal for the burst: {heals:?}");
    assert_eq!(heals_after.len(), 1, "and no other later");
    let heal = &heals_after[0];
    assert!(heal.is_automatic_invocation);
    assert_eq!(
        heal.operation_params.as_ref().expect("params")["vnfcInstanceId"],
        serde_json::json!([vnfc])
    );
    // The heal was announced with isAutomaticInvocation.
    loop {
        let notification = f
            .notification("VnfLcmOperationOccurrenceNotification")
            .await;
        if notification["operation"] == "HEAL" {
            assert_eq!(notification["isAutomaticInvocation"], true);
            break;
        }
    }
    // The alarm of the burst was raised once and is cleared.
    let alarms =
        f.fm.alarms(&f.tenant, &ListQuery::all())
            .await
            .expect("alarms")
            .items;
    assert_eq!(alarms.len(), 1, "{alarms:?}");
    assert_eq!(alarms[0].perceived_severity, PerceivedSeverityType::Cleared);
    assert_eq!(alarms[0].managed_object_id, instance.id);
    handle.shutdown().await;
    executor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_automatic_heal_waits_for_the_running_operation() {
    let f = fixture(SimInfraDriver::default()).await;
    let executor = f.start().await;
    let instance = f
        .instantiated(serde_json::json!({"isAutohealEnabled": true}))
        .await;
    let vnfc = vnfc_ids(&instance).remove(0);
    let health = HealthService::new(
        f.lcm.clone(),
        f.fm.clone(),
        Vec::new(),
        vec![Arc::new(AutoHealPolicy::new(AutoHealConfig {
            window: Duration::from_millis(50),
            max_vnfc_heals: 2,
        }))],
        health_config(),
    );
    let handle = health.start().expect("start");
    // A slow scale-out runs while the VNFC fails.
    f.sim
        .set_latency(SimOperation::Scale, Duration::from_millis(1500));
    let scale = f
        .lcm
        .scale(
            &f.tenant,
            &instance.id,
            ScaleVnfRequest {
                scale_type: ScaleType::ScaleOut,
                aspect_id: "worker".into(),
                number_of_steps: Some(1),
                additional_params: KeyValuePairs::new(),
            },
        )
        .await
        .expect("scale accepted");
    health
        .events()
        .send(unhealthy(&f.tenant, &instance.id, &vnfc, Utc::now()))
        .await
        .expect("send");
    let heals = f
        .wait_heals(&instance.id, |heals| {
            heals.iter().any(|h| h.operation_state == State::Completed)
        })
        .await;
    let scale = f.lcm.op_occ(&f.tenant, &scale.id).await.expect("scale");
    assert_eq!(scale.operation_state, State::Completed, "{:?}", scale.error);
    assert_eq!(heals.len(), 1);
    assert!(heals[0].is_automatic_invocation);
    assert!(
        heals[0].start_time >= scale.state_entered_time,
        "the heal started after the scale finished: {} < {}",
        heals[0].start_time,
        scale.state_entered_time
    );
    handle.shutdown().await;
    executor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unhealthy_vnfc_is_healed_and_its_alarm_cleared() {
    // Two loopback addresses for the VDU: the VNFC starts on the first; the simulated
    // VIM gives the healed VNFC the second, where a healthy server listens.
    let first = IpAddr::V4(Ipv4Addr::new(127, 81, 0, 10));
    let second = IpAddr::V4(Ipv4Addr::new(127, 81, 0, 11));
    let port = free_port(first).await;
    let sim = SimInfraDriver::builder()
        .vdu_addresses("VDU1", [first, second])
        .heal_readdresses(true)
        .build();
    let mut f = fixture(sim).await;
    let executor = f.start().await;
    f.fm.subscriptions()
        .subscribe(
            &f.tenant,
            FmSubscriptionRequest {
                filter: None,
                callback_uri: "http://127.0.0.1:9/fm".into(),
                authentication: None,
            },
        )
        .await
        .expect("FM subscription");
    let server = http_server(SocketAddr::new(first, port), 200).await;
    let replacement = http_server(SocketAddr::new(second, port), 200).await;
    let instance = f
        .instantiated(serde_json::json!({
            "isAutohealEnabled": true,
            "monitoring": {"http": {
                "url": format!("http://{{address}}:{port}/health"),
                "intervalMs": 50, "timeoutMs": 1000, "failureThreshold": 2}},
        }))
        .await;
    assert_eq!(address_of(&instance), first);
    let vnfc = vnfc_ids(&instance).remove(0);
    let http: Arc<dyn MonitorDriver> = Arc::new(HttpMonitor::new(8));
    let health = HealthService::new(
        f.lcm.clone(),
        f.fm.clone(),
        vec![http],
        vec![Arc::new(AutoHealPolicy::new(AutoHealConfig {
            window: Duration::from_millis(100),
            max_vnfc_heals: 2,
        }))],
        health_config(),
    );
    let handle = health.start().expect("start");
    health
        .sync_tenant(&f.tenant)
        .await
        .expect("start monitoring");

    stop_server(server).await;
    let raised = f.notification("AlarmNotification").await;
    assert_eq!(raised["alarm"]["managedObjectId"], instance.id.as_str());
    assert_eq!(raised["alarm"]["perceivedSeverity"], "MAJOR");
    assert_eq!(
        raised["alarm"]["rootCauseFaultyResource"]["faultyResourceType"],
        "COMPUTE"
    );
    let alarm_id = raised["alarm"]["id"].as_str().expect("alarm id").to_owned();
    let cleared = f.notification("AlarmClearedNotification").await;
    assert_eq!(cleared["alarmId"], alarm_id.as_str());

    let heals = f
        .wait_heals(&instance.id, |heals| {
            heals.iter().any(|h| h.operation_state == State::Completed)
        })
        .await;
    assert_eq!(heals.len(), 1);
    assert!(heals[0].is_automatic_invocation);
    let healed = f
        .lcm
        .instance(&f.tenant, &instance.id)
        .await
        .expect("instance");
    assert_eq!(
        vnfc_ids(&healed),
        vec![vnfc.clone()],
        "the VNFC keeps its id"
    );
    assert_eq!(
        address_of(&healed),
        second,
        "the replacement answers elsewhere"
    );
    let alarm = f.fm.alarm(&f.tenant, &alarm_id).await.expect("alarm");
    assert!(alarm.alarm_cleared_time.is_some());

    // People acknowledge alarms, once.
    let ack = AlarmModifications {
        ack_state: AckState::Acknowledged,
    };
    f.fm.modify_alarm(&f.tenant, &alarm_id, ack)
        .await
        .expect("acknowledge");
    assert!(matches!(
        f.fm.modify_alarm(&f.tenant, &alarm_id, ack).await,
        Err(Error::Conflict(_))
    ));

    // Terminated, the instance is no longer watched.
    let op = f
        .lcm
        .terminate(
            &f.tenant,
            &instance.id,
            tacker_core::model::TerminateVnfRequest {
                termination_type: tacker_core::model::TerminationType::Forceful,
                graceful_termination_timeout: None,
                additional_params: KeyValuePairs::new(),
            },
        )
        .await
        .expect("terminate");
    f.lcm
        .wait_for(&f.tenant, &op.id, &[], WAIT)
        .await
        .expect("terminated");
    handle.shutdown().await;
    stop_server(replacement).await;
    executor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vnfc_that_keeps_failing_is_healed_whole_then_escalated() {
    let f = fixture(SimInfraDriver::default()).await;
    let executor = f.start().await;
    let instance = f
        .instantiated(serde_json::json!({"isAutohealEnabled": true}))
        .await;
    let vnfc = vnfc_ids(&instance).remove(0);
    let policy = AutoHealPolicy::new(AutoHealConfig {
        window: Duration::from_secs(1),
        max_vnfc_heals: 2,
    });
    let mut now = Utc::now();
    let mut decisions = Vec::new();
    for _ in 0..5 {
        now += chrono::Duration::seconds(10);
        let event = PolicyEvent::Health(unhealthy(&f.tenant, &instance.id, &vnfc, now));
        let mut actions = policy.on_event(&event, &instance).await.expect("event");
        // Before the window closes nothing is decided.
        assert!(
            policy
                .due(now + chrono::Duration::milliseconds(500))
                .await
                .expect("due")
                .is_empty()
        );
        actions.extend(
            policy
                .due(now + chrono::Duration::seconds(1))
                .await
                .expect("due"),
        );
        decisions.push(actions);
    }
    let describe = |actions: &[PolicyAction]| match actions {
        [PolicyAction::Heal { request, .. }] if request.vnfc_instance_id.is_empty() => {
            "whole".to_owned()
        }
        [PolicyAction::Heal { request, .. }] => format!("vnfc {}", request.vnfc_instance_id.len()),
        [PolicyAction::Escalate { vnfc_id, .. }] => {
            format!("escalate {}", vnfc_id.as_deref().unwrap_or("-"))
        }
        [] => "nothing".to_owned(),
        other => format!("{other:?}"),
    };
    let seen: Vec<String> = decisions.iter().map(|a| describe(a)).collect();
    assert_eq!(
        seen,
        vec![
            "vnfc 1".to_owned(),
            "vnfc 1".to_owned(),
            "whole".to_owned(),
            format!("escalate {vnfc}"),
            "nothing".to_owned(),
        ]
    );
    // Healthy again, the VNFC starts over.
    now += chrono::Duration::seconds(10);
    let healthy = unhealthy(&f.tenant, &instance.id, &vnfc, now).with_status(HealthStatus::Healthy);
    policy
        .on_event(&PolicyEvent::Health(healthy), &instance)
        .await
        .expect("healthy");
    now += chrono::Duration::seconds(10);
    policy
        .on_event(
            &PolicyEvent::Health(unhealthy(&f.tenant, &instance.id, &vnfc, now)),
            &instance,
        )
        .await
        .expect("event");
    let actions = policy
        .due(now + chrono::Duration::seconds(1))
        .await
        .expect("due");
    assert_eq!(describe(&actions), "vnfc 1");

    // Without isAutohealEnabled nothing happens.
    let manual = f.instantiated(serde_json::json!({})).await;
    let event = PolicyEvent::Health(unhealthy(
        &f.tenant,
        &manual.id,
        &vnfc_ids(&manual).remove(0),
        now,
    ));
    assert!(
        policy
            .on_event(&event, &manual)
            .await
            .expect("event")
            .is_empty()
    );
    assert!(
        policy
            .due(now + chrono::Duration::seconds(5))
            .await
            .expect("due")
            .is_empty()
    );
    executor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_scale_steps_within_levels_with_a_cool_down() {
    let f = fixture(SimInfraDriver::default()).await;
    let executor = f.start().await;
    let instance = f
        .instantiated(serde_json::json!({"isAutoscaleEnabled": true}))
        .await;
    let scale_event = |direction| {
        PolicyEvent::scale(
            f.tenant.clone(),
            &instance.id,
            "worker",
            direction,
            "test",
            Utc::now(),
        )
    };
    let policy = AutoScalePolicy::new(AutoScaleConfig {
        cooldown: Duration::from_secs(3600),
    });
    // At level 0 there is nothing to scale in.
    assert!(
        policy
            .on_event(&scale_event(ScaleDirection::In), &instance)
            .await
            .expect("event")
            .is_empty()
    );
    let actions = policy
        .on_event(&scale_event(ScaleDirection::Out), &instance)
        .await
        .expect("event");
    match actions.as_slice() {
        [PolicyAction::Scale { request, .. }] => {
            assert_eq!(request.scale_type, ScaleType::ScaleOut);
            assert_eq!(request.aspect_id, "worker");
            assert_eq!(request.number_of_steps, Some(1));
        }
        other => panic!("expected one scale out, got {other:?}"),
    }
    // Cooling down.
    assert!(
        policy
            .on_event(&scale_event(ScaleDirection::Out), &instance)
            .await
            .expect("event")
            .is_empty()
    );
    // Through the service, the scale runs automatically; without a cool-down a second
    // request in the same direction goes on to the next level.
    let health = HealthService::new(
        f.lcm.clone(),
        f.fm.clone(),
        Vec::new(),
        vec![Arc::new(AutoScalePolicy::new(AutoScaleConfig {
            cooldown: Duration::ZERO,
        }))],
        health_config(),
    );
    let handle = health.start().expect("start");
    health
        .submit(scale_event(ScaleDirection::Out))
        .await
        .expect("submit");
    let mut scaled = None;
    for _ in 0..600 {
        let ops = f
            .lcm
            .op_occs(&f.tenant, &ListQuery::all())
            .await
            .expect("ops")
            .items;
        if let Some(op) = ops.into_iter().find(|op| {
            op.operation == LcmOperationType::Scale && op.operation_state == State::Completed
        }) {
            scaled = Some(op);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let scaled = scaled.expect("an automatic scale completed");
    assert!(scaled.is_automatic_invocation);
    let after = f
        .lcm
        .instance(&f.tenant, &instance.id)
        .await
        .expect("instance");
    let level = after
        .instantiated_vnf_info
        .as_ref()
        .expect("info")
        .scale_status[0]
        .scale_level;
    assert_eq!(level, 1);
    handle.shutdown().await;
    executor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fm_subscriptions_filter_alarm_notifications() {
    let mut f = fixture(SimInfraDriver::default()).await;
    let executor = f.start().await;
    let instance = f.instantiated(serde_json::json!({})).await;
    let critical_only =
        f.fm.subscriptions()
            .subscribe(
                &f.tenant,
                FmSubscriptionRequest {
                    filter: Some(
                        serde_json::from_value(serde_json::json!({
                        "perceivedSeverities": ["CRITICAL"],
                        "notificationTypes": ["AlarmNotification"]}))
                        .expect("filter"),
                    ),
                    callback_uri: "http://127.0.0.1:9/critical".into(),
                    authentication: None,
                },
            )
            .await
            .expect("subscribe");
    let everything =
        f.fm.subscriptions()
            .subscribe(
                &f.tenant,
                FmSubscriptionRequest {
                    filter: None,
                    callback_uri: "http://127.0.0.1:9/all".into(),
                    authentication: None,
                },
            )
            .await
            .expect("subscribe");
    let fault = |severity| tacker_core::lcm::Fault {
        vnf_instance_id: instance.id.clone(),
        vnfc_id: None,
        source: "test".into(),
        severity,
        event_type: tacker_core::model::EventType::QosAlarm,
        probable_cause: "latency".into(),
        details: Vec::new(),
        observed_at: Utc::now(),
    };
    let (major, notified) =
        f.fm.raise_alarm(&f.tenant, fault(PerceivedSeverityType::Major))
            .await
            .expect("raise");
    assert!(notified);
    // Seen again at the same severity: the same alarm, no notification.
    let (again, notified) =
        f.fm.raise_alarm(&f.tenant, fault(PerceivedSeverityType::Major))
            .await
            .expect("raise again");
    assert_eq!(again.id, major.id);
    assert!(!notified);
    // Worse: the same alarm, changed, notified.
    let (critical, notified) =
        f.fm.raise_alarm(&f.tenant, fault(PerceivedSeverityType::Critical))
            .await
            .expect("escalate");
    assert_eq!(critical.id, major.id);
    assert!(notified);
    assert!(critical.alarm_changed_time.is_some());
    f.fm.clear_alarm(
        &f.tenant,
        &instance.id,
        &tacker_core::lcm::fault_key(&instance.id, None, "test"),
    )
    .await
    .expect("clear")
    .expect("an alarm was active");
    let mut received = Vec::new();
    for _ in 0..4 {
        let (target, payload) = tokio::time::timeout(WAIT, f.notifications.recv())
            .await
            .expect("in time")
            .expect("open");
        if target.subscription_id == critical_only.id || target.subscription_id == everything.id {
            received.push((
                target.subscription_id == critical_only.id,
                payload["notificationType"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
                payload["alarm"]["perceivedSeverity"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            ));
        }
        if received.len() == 4 {
            break;
        }
    }
    received.sort();
    assert_eq!(
        received,
        vec![
            (false, "AlarmClearedNotification".to_owned(), String::new()),
            (false, "AlarmNotification".to_owned(), "CRITICAL".to_owned()),
            (false, "AlarmNotification".to_owned(), "MAJOR".to_owned()),
            (true, "AlarmNotification".to_owned(), "CRITICAL".to_owned()),
        ]
    );
    executor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_monitor_sees_a_network_namespace_go_away() {
    if !PingMonitor::icmp_allowed() {
        eprintln!("skipped: this process may not send ICMP echo");
        return;
    }
    let namespace = match Namespace::create("fm") {
        Ok(namespace) => namespace,
        Err(why) => {
            eprintln!("skipped: no network namespace here ({why})");
            return;
        }
    };
    let sim = SimInfraDriver::builder()
        .vdu_addresses("VDU1", [namespace.address])
        .build();
    let f = fixture(sim).await;
    let executor = f.start().await;
    let instance = f.instantiated(serde_json::json!({})).await;
    assert_eq!(address_of(&instance), namespace.address);
    let monitor = PingMonitor::new(4);
    let (tx, mut events) = mpsc::channel(64);
    monitor
        .watch(
            MonitorTarget::new(
                f.tenant.clone(),
                instance.clone(),
                serde_json::from_value(serde_json::json!({
                    "mode": "icmp", "intervalMs": 50, "timeoutMs": 300, "failureThreshold": 2}))
                .expect("params"),
            ),
            tx,
        )
        .await
        .expect("watch");
    let event = next_event(&mut events).await;
    assert_eq!(event.status, HealthStatus::Healthy, "{}", event.reason);
    namespace.remove();
    let event = next_event(&mut events).await;
    assert_eq!(event.status, HealthStatus::Unhealthy);
    assert!(event.reason.contains("ICMP"), "{}", event.reason);
    monitor.stop(&f.tenant, &instance.id).await.expect("stop");
    executor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_monitoring_configuration_is_an_alarm_until_fixed() {
    let f = fixture(SimInfraDriver::default()).await;
    let executor = f.start().await;
    let http: Arc<dyn MonitorDriver> = Arc::new(HttpMonitor::new(2));
    let health = HealthService::new(
        f.lcm.clone(),
        f.fm.clone(),
        vec![http],
        Vec::new(),
        health_config(),
    );
    let handle = health.start().expect("start");
    let instance = f
        .instantiated(serde_json::json!({"monitoring": {"http": {"url": "ftp://{address}/"}}}))
        .await;
    let mut raised = None;
    for _ in 0..600 {
        let alarms =
            f.fm.alarms(&f.tenant, &ListQuery::all())
                .await
                .expect("alarms")
                .items;
        if let Some(alarm) = alarms.into_iter().next() {
            raised = Some(alarm);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let alarm = raised.expect("an alarm for the refused configuration");
    assert_eq!(alarm.probable_cause, "monitoring configuration refused");
    assert_eq!(alarm.perceived_severity, PerceivedSeverityType::Warning);
    assert!(
        alarm
            .fault_details
            .iter()
            .any(|d| d.contains("monitoring.http.url")),
        "{:?}",
        alarm.fault_details
    );
    // Fixed by modify info, the alarm clears.
    let port = free_port(address_of(&instance)).await;
    let patch: KeyValuePairs = serde_json::from_value(serde_json::json!({"monitoring": {"http": {
        "url": format!("http://{{address}}:{port}/")}}}))
    .expect("patch");
    let op = f
        .lcm
        .modify_info(
            &f.tenant,
            &instance.id,
            tacker_core::model::VnfInfoModificationRequest {
                vnf_configurable_properties: Some(patch),
                ..Default::default()
            },
        )
        .await
        .expect("modify");
    f.lcm
        .wait_for(&f.tenant, &op.id, &[], WAIT)
        .await
        .expect("modified");
    let mut cleared = false;
    for _ in 0..600 {
        let alarm = f.fm.alarm(&f.tenant, &alarm.id).await.expect("alarm");
        if alarm.alarm_cleared_time.is_some() {
            cleared = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        cleared,
        "the alarm clears once the configuration is accepted"
    );
    handle.shutdown().await;
    executor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitoring_follows_scale_out_and_in() {
    let f = fixture(SimInfraDriver::default()).await;
    let executor = f.start().await;
    // Every VNFC answers TCP on its own loopback address: a listener per address.
    let instance = f.instantiated(serde_json::json!({})).await;
    let first = address_of(&instance);
    let port = free_port(first).await;
    let _first_listener = TcpListener::bind(SocketAddr::new(first, port))
        .await
        .expect("bind");
    let ping: Arc<dyn MonitorDriver> = Arc::new(PingMonitor::new(4));
    let health = HealthService::new(
        f.lcm.clone(),
        f.fm.clone(),
        vec![ping],
        Vec::new(),
        health_config(),
    );
    let handle = health.start().expect("start");
    let patch: KeyValuePairs = serde_json::from_value(serde_json::json!({"monitoring": {"ping": {
        "mode": "tcp", "tcpPort": port, "intervalMs": 50, "timeoutMs": 1000, "failureThreshold": 2}}}))
    .expect("patch");
    let op = f
        .lcm
        .modify_info(
            &f.tenant,
            &instance.id,
            tacker_core::model::VnfInfoModificationRequest {
                vnf_configurable_properties: Some(patch),
                ..Default::default()
            },
        )
        .await
        .expect("modify");
    f.lcm
        .wait_for(&f.tenant, &op.id, &[], WAIT)
        .await
        .expect("modified");
    // Scale out: the new VNFC has no listener, so its probes fail and raise its alarm.
    let scale = |scale_type| ScaleVnfRequest {
        scale_type,
        aspect_id: "worker".into(),
        number_of_steps: Some(1),
        additional_params: KeyValuePairs::new(),
    };
    let op = f
        .lcm
        .scale(&f.tenant, &instance.id, scale(ScaleType::ScaleOut))
        .await
        .expect("scale out");
    let op = f
        .lcm
        .wait_for(&f.tenant, &op.id, &[], WAIT)
        .await
        .expect("scaled");
    assert_eq!(op.operation_state, State::Completed, "{:?}", op.error);
    let scaled = f
        .lcm
        .instance(&f.tenant, &instance.id)
        .await
        .expect("instance");
    let original = vnfc_ids(&instance).remove(0);
    let added: Vec<String> = vnfc_ids(&scaled)
        .into_iter()
        .filter(|id| *id != original)
        .collect();
    assert_eq!(added.len(), 1);
    let mut alarm = None;
    for _ in 0..600 {
        alarm =
            f.fm.alarms(&f.tenant, &ListQuery::all())
                .await
                .expect("alarms")
                .items
                .into_iter()
                .find(|a| a.alarm_cleared_time.is_none());
        if alarm.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let alarm = alarm.expect("an alarm for the added VNFC");
    assert!(
        alarm
            .fault_details
            .contains(&format!("vnfcInstanceId={}", added[0])),
        "{:?}",
        alarm.fault_details
    );
    // Scale in removes the failing VNFC and clears its alarm; the original VNFC, still
    // answering, raised nothing.
    let op = f
        .lcm
        .scale(&f.tenant, &instance.id, scale(ScaleType::ScaleIn))
        .await
        .expect("scale in");
    f.lcm
        .wait_for(&f.tenant, &op.id, &[], WAIT)
        .await
        .expect("scaled in");
    let mut cleared = false;
    for _ in 0..600 {
        let now = f.fm.alarm(&f.tenant, &alarm.id).await.expect("alarm");
        if now.alarm_cleared_time.is_some() {
            cleared = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(cleared, "the alarm of the removed VNFC is cleared");
    let alarms =
        f.fm.alarms(&f.tenant, &ListQuery::all())
            .await
            .expect("alarms")
            .items;
    assert!(
        alarms.iter().all(|a| !a
            .fault_details
            .contains(&format!("vnfcInstanceId={original}"))),
        "{alarms:?}"
    );
    handle.shutdown().await;
    executor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measurements_crossing_thresholds_scale_by_one_step() {
    let f = fixture(SimInfraDriver::default()).await;
    let executor = f.start().await;
    let instance = f
        .instantiated(serde_json::json!({
            "isAutoscaleEnabled": true,
            "autoscale": [{"metric": "VCpuUsageMeanVnf", "aspectId": "worker",
                           "scaleOutAbove": 80.0, "scaleInBelow": 20.0}],
        }))
        .await;
    let measured = |value: f64| {
        PolicyEvent::metric(
            f.tenant.clone(),
            &instance.id,
            "VCpuUsageMeanVnf",
            value,
            Utc::now(),
        )
    };
    let policy = AutoScalePolicy::new(AutoScaleConfig {
        cooldown: Duration::ZERO,
    });
    // Within the band, or below it at level 0: nothing.
    for value in [50.0, 10.0] {
        assert!(
            policy
                .on_event(&measured(value), &instance)
                .await
                .expect("event")
                .is_empty(),
            "{value}"
        );
    }
    let actions = policy
        .on_event(&measured(95.0), &instance)
        .await
        .expect("event");
    match actions.as_slice() {
        [PolicyAction::Scale { request, .. }] => {
            assert_eq!(request.scale_type, ScaleType::ScaleOut);
            assert_eq!(request.aspect_id, "worker");
        }
        other => panic!("expected one scale out, got {other:?}"),
    }
    // Another metric has no rule.
    let other = PolicyEvent::metric(
        f.tenant.clone(),
        &instance.id,
        "VMemoryUsageMeanVnf",
        99.0,
        Utc::now(),
    );
    assert!(
        policy
            .on_event(&other, &instance)
            .await
            .expect("event")
            .is_empty()
    );
    executor.shutdown().await;
}
