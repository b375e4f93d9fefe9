//! Prometheus metrics of the server, in the text exposition format: HTTP requests by
//! method, route and status (with a latency histogram), LCM operation durations by
//! operation type and the state they ended in, and the depth of the notification outbox.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tacker_core::lcm::VnfLcm;
use tacker_core::store::Store;
use tokio::sync::broadcast::error::RecvError;

const REQUEST_BUCKETS: &[f64] = &[0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];
const OP_BUCKETS: &[f64] = &[
    0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0,
];

#[derive(Debug, Clone)]
struct Histogram {
    bounds: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    fn observe(&mut self, seconds: f64) {
        for (bound, count) in self.bounds.iter().zip(self.counts.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        self.sum += seconds;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

#[derive(Debug, Default)]
struct Counters {
    requests: BTreeMap<(String, String, u16), u64>,
    request_seconds: BTreeMap<(String, String), Histogram>,
    ops: BTreeMap<(String, String), Histogram>,
}

/// The server's metrics. Shared as `Arc<Metrics>`.
#[derive(Debug)]
pub struct Metrics {
    counters: Mutex<Counters>,
    store: Option<Arc<dyn Store>>,
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Metrics; with a store, the outbox depth is read from it at every scrape.
    pub fn new(store: Option<Arc<dyn Store>>) -> Arc<Self> {
        Arc::new(Self {
            counters: Mutex::new(Counters::default()),
            store,
        })
    }

    fn counters(&self) -> std::sync::MutexGuard<'_, Counters> {
        // A panic while counting leaves numbers, not broken invariants.
        self.counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records one answered request.
    pub fn record_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let mut counters = self.counters();
        *counters
            .requests
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default() += 1;
        counters
            .request_seconds
            .entry((method.to_owned(), route.to_owned()))
            .or_insert_with(|| Histogram::new(REQUEST_BUCKETS))
            .observe(elapsed.as_secs_f64());
    }

    /// Records an operation that ended (or reached FAILED_TEMP).
    pub fn record_operation(&self, operation: &str, state: &str, elapsed: Duration) {
        self.counters()
            .ops
            .entry((operation.to_owned(), state.to_owned()))
            .or_insert_with(|| Histogram::new(OP_BUCKETS))
            .observe(elapsed.as_secs_f64());
    }

    /// Follows the engine's finished operations until the engine is dropped.
    pub fn watch_operations(self: &Arc<Self>, lcm: &VnfLcm) -> tokio::task::JoinHandle<()> {
        let mut events = lcm.op_events();
        let metrics = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(event) => metrics.record_operation(
                        &event.operation.to_string(),
                        &event.state.to_string(),
                        event.duration,
                    ),
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "metrics missed operation events");
                    }
                    Err(RecvError::Closed) => break,
                }
            }
        })
    }

    /// The metrics in the Prometheus text format.
    pub async fn render(&self) -> String {
        let depth = match &self.store {
            Some(store) => match store.outbox_depth().await {
                Ok(depth) => Some(depth),
                Err(error) => {
                    tracing::warn!(%error, "reading the outbox depth failed");
                    None
                }
            },
            None => None,
        };
        let counters = self.counters();
        let mut out = String::new();
        out.push_str("# HELP tacker_http_requests_total HTTP requests answered.\n");
        out.push_str("# TYPE tacker_http_requests_total counter\n");
        for ((method, route, status), count) in &counters.requests {
            let _ = writeln!(
                out,
                "tacker_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {count}",
                escape(method),
                escape(route)
            );
        }
        out.push_str("# HELP tacker_http_request_duration_seconds Time to answer a request.\n");
        out.push_str("# TYPE tacker_http_request_duration_seconds histogram\n");
        for ((method, route), histogram) in &counters.request_seconds {
            histogram.render(
                &mut out,
                "tacker_http_request_duration_seconds",
                &format!("method=\"{}\",route=\"{}\"", escape(method), escape(route)),
            );
        }
        out.push_str(
            "# HELP tacker_lcm_operation_duration_seconds LCM operations from start to the state they reached.\n",
        );
        out.push_str("# TYPE tacker_lcm_operation_duration_seconds histogram\n");
        for ((operation, state), histogram) in &counters.ops {
            histogram.render(
                &mut out,
                "tacker_lcm_operation_duration_seconds",
                &format!(
                    "operation=\"{}\",state=\"{}\"",
                    escape(operation),
                    escape(state)
                ),
            );
        }
        if let Some(depth) = depth {
            out.push_str(
                "# HELP tacker_notification_outbox_depth Notifications waiting for delivery.\n",
            );
            out.push_str("# TYPE tacker_notification_outbox_depth gauge\n");
            let _ = writeln!(out, "tacker_notification_outbox_depth {depth}");
        }
        out
    }
}

/// Middleware (as a route layer, where the matched route is known): counts requests.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(request).await;
    metrics.record_request(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_exposition_holds_every_series() {
        let metrics = Metrics::new(None);
        metrics.record_request(
            "GET",
            "/vnflcm/v2/vnf_instances",
            200,
            Duration::from_millis(3),
        );
        metrics.record_request(
            "GET",
            "/vnflcm/v2/vnf_instances",
            200,
            Duration::from_millis(30),
        );
        metrics.record_operation("INSTANTIATE", "COMPLETED", Duration::from_secs(2));
        let text = metrics.render().await;
        assert!(text.contains(
            "tacker_http_requests_total{method=\"GET\",route=\"/vnflcm/v2/vnf_instances\",status=\"200\"} 2"
        ));
        assert!(text.contains("tacker_http_request_duration_seconds_bucket{method=\"GET\",route=\"/vnflcm/v2/vnf_instances\",le=\"0.005\"} 1"));
        assert!(text.contains("tacker_http_request_duration_seconds_count{method=\"GET\",route=\"/vnflcm/v2/vnf_instances\"} 2"));
        assert!(text.contains("tacker_lcm_operation_duration_seconds_bucket{operation=\"INSTANTIATE\",state=\"COMPLETED\",le=\"1\"} 0"));
        assert!(text.contains("tacker_lcm_operation_duration_seconds_bucket{operation=\"INSTANTIATE\",state=\"COMPLETED\",le=\"5\"} 1"));
        assert!(!text.contains("outbox"), "no store, no outbox gauge");
    }
}
