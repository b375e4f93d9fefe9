//! LCM operations per second through `vnfm` servers that share one store, for
//! `benches/lcm-processes.sh`.
//!
//! `lcm-load --url URL [--url URL…] --package CSAR.zip [--workers 8] [--duration 10]`
//! onboards the package through the first server, then each worker creates a VNF instance
//! (through the servers in turn) and, until the duration is over, instantiates it and
//! terminates it again, following each operation's occurrence until it is COMPLETED.
//! Whichever process claims an operation runs it; the servers only have to share the
//! store. It prints the operations per second, the LCM state changes per second (each
//! operation enters three states: STARTING, PROCESSING and COMPLETED), the latency
//! percentiles of an operation (request to COMPLETED as the worker sees it), and the
//! GET requests the workers polled with.
//!
//! Everything is bounded: every request times out (`--timeout`), following an
//! operation gives up after the same time, onboarding after 60 s, and the workers stop
//! at the end of the duration. Any operation that does not complete is an error and
//! makes the exit status non-zero.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{ACCEPT, CONTENT_TYPE, HOST, HeaderValue, LOCATION};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tacker_benches::percentile_ms;
use tokio::net::TcpStream;

#[derive(Debug, Parser)]
#[command(
    name = "lcm-load",
    about = "Instantiates and terminates VNF instances in a closed loop through vnfm servers sharing a store"
)]
struct Args {
    /// A server's base URL (`http://host:port`); give it once per server.
    #[arg(long = "url", required = true)]
    urls: Vec<String>,
    /// The VNF package (CSAR zip) to onboard; its VNFD is instantiated.
    #[arg(long)]
    package: PathBuf,
    /// The flavour to instantiate.
    #[arg(long, default_value = "simple")]
    flavour: String,
    /// Concurrent workers, each with its own instance and connection.
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Seconds of load.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Seconds a request, or following an operation to its end, may take.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// The longest pause (milliseconds) between two polls of an operation (the pause
    /// grows from 1 ms by half each poll up to this).
    #[arg(long, default_value_t = 20)]
    poll_max_ms: u64,
}

type Result<T> = std::result::Result<T, String>;

/// One keep-alive HTTP/1.1 connection to a server.
struct Client {
    sender: SendRequest<Full<Bytes>>,
    authority: String,
    timeout: Duration,
    gets: Arc<AtomicU64>,
    poll_max: Duration,
}

struct Answer {
    status: StatusCode,
    location: Option<String>,
    body: Bytes,
}

impl Answer {
    fn json(&self, what: &str) -> Result<Value> {
        serde_json::from_slice(&self.body).map_err(|e| format!("{what}: not JSON: {e}"))
    }
}

impl Client {
    async fn connect(
        base: &str,
        timeout: Duration,
        poll_max: Duration,
        gets: Arc<AtomicU64>,
    ) -> Result<Self> {
        let uri: Uri = base.parse().map_err(|e| format!("{base}: {e}"))?;
        let authority = uri
            .authority()
            .ok_or_else(|| format!("{base}: no host"))?
            .to_string();
        let stream = tokio::time::timeout(timeout, TcpStream::connect(&authority))
            .await
            .map_err(|_| format!("connecting to {authority} timed out"))?
            .map_err(|e| format!("connecting to {authority}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP handshake: {e}"))?;
        tokio::spawn(connection);
        Ok(Self {
            sender,
            authority,
            timeout,
            gets,
            poll_max,
        })
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Bytes,
    ) -> Result<Answer> {
        if method == Method::GET {
            self.gets.fetch_add(1, Ordering::Relaxed);
        }
        let mut request = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(HOST, &self.authority)
            .header(ACCEPT, "application/json")
            .header(CONTENT_TYPE, content_type);
        // SOL013's Version header for the v2 APIs (the v1 package API has none).
        if path.starts_with("/vnflcm/v2") {
            request = request.header("Version", "2.0.0");
        }
        let request = request.body(Full::new(body)).map_err(|e| e.to_string())?;
        let exchange = async {
            self.sender
                .ready()
                .await
                .map_err(|e| format!("connection: {e}"))?;
            let answer = self
                .sender
                .send_request(request)
                .await
                .map_err(|e| format!("{method} {path}: {e}"))?;
            let status = answer.status();
            let location = answer
                .headers()
                .get(LOCATION)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_owned);
            let body = answer
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("{method} {path}: body: {e}"))?
                .to_bytes();
            Ok::<_, String>(Answer {
                status,
                location,
                body,
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| format!("{path}: no answer in {:?}", self.timeout))?
    }

    async fn post_json(&mut self, path: &str, body: &Value) -> Result<Answer> {
        self.send(
            Method::POST,
            path,
            "application/json",
            Bytes::from(body.to_string()),
        )
        .await
    }

    async fn get(&mut self, path: &str) -> Result<Answer> {
        self.send(Method::GET, path, "application/json", Bytes::new())
            .await
    }
}

/// The path of a `Location` (absolute URL or path).
fn path_of(location: &str) -> Result<String> {
    let uri: Uri = location
        .parse()
        .map_err(|e| format!("Location {location}: {e}"))?;
    Ok(uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| uri.path().to_owned()))
}

/// Onboards the package through `client`; its vnfdId.
async fn onboard(client: &mut Client, package: Bytes) -> Result<String> {
    let created = client
        .post_json("/vnfpkgm/v1/vnf_packages", &json!({}))
        .await?;
    if created.status != StatusCode::CREATED {
        return Err(format!("creating the package: {}", created.status));
    }
    let id = created.json("the package")?["id"]
        .as_str()
        .ok_or("the package has no id")?
        .to_owned();
    let uploaded = client
        .send(
            Method::PUT,
            &format!("/vnfpkgm/v1/vnf_packages/{id}/package_content"),
            "application/zip",
            package,
        )
        .await?;
    if !uploaded.status.is_success() {
        return Err(format!("uploading the package: {}", uploaded.status));
    }
    let until = Instant::now() + Duration::from_secs(60);
    while Instant::now() < until {
        let info = client
            .get(&format!("/vnfpkgm/v1/vnf_packages/{id}"))
            .await?
            .json("the package")?;
        match info["onboardingState"].as_str() {
            Some("ONBOARDED") => {
                return info["vnfdId"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| "the package has no vnfdId".to_owned());
            }
            Some("CREATED") => return Err(format!("onboarding failed: {info}")),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    Err("the package was not ONBOARDED within 60 s".to_owned())
}

/// Requests a task and follows its op occurrence to COMPLETED; the time it took.
async fn run_task(client: &mut Client, path: &str, body: &Value) -> Result<Duration> {
    let started = Instant::now();
    let accepted = client.post_json(path, body).await?;
    if accepted.status != StatusCode::ACCEPTED {
        return Err(format!(
            "{path}: {} {}",
            accepted.status,
            String::from_utf8_lossy(&accepted.body)
        ));
    }
    let op = path_of(accepted.location.as_deref().ok_or("no Location")?)?;
    let mut pause = Duration::from_millis(1);
    while started.elapsed() < client.timeout {
        let occurrence = client.get(&op).await?.json("the op occurrence")?;
        match occurrence["operationState"].as_str() {
            Some("COMPLETED") => return Ok(started.elapsed()),
            Some("STARTING" | "PROCESSING") => {}
            other => return Err(format!("{op} ended {other:?}: {occurrence}")),
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 3 / 2).min(client.poll_max);
    }
    Err(format!("{op} did not complete in {:?}", client.timeout))
}

/// One worker: an instance instantiated and terminated until `until`; the latency of
/// each operation.
async fn worker(
    mut client: Client,
    vnfd_id: String,
    flavour: String,
    until: Instant,
) -> Result<Vec<Duration>> {
    let created = client
        .post_json(
            "/vnflcm/v2/vnf_instances",
            &json!({"vnfdId": vnfd_id, "vnfInstanceName": "lcm-load"}),
        )
        .await?;
    if created.status != StatusCode::CREATED {
        return Err(format!("creating an instance: {}", created.status));
    }
    let id = created.json("the instance")?["id"]
        .as_str()
        .ok_or("the instance has no id")?
        .to_owned();
    let base = format!("/vnflcm/v2/vnf_instances/{id}");
    let mut latencies = Vec::new();
    while Instant::now() < until {
        latencies.push(
            run_task(
                &mut client,
                &format!("{base}/instantiate"),
                &json!({"flavourId": flavour}),
            )
            .await?,
        );
        latencies.push(
            run_task(
                &mut client,
                &format!("{base}/terminate"),
                &json!({"terminationType": "FORCEFUL"}),
            )
            .await?,
        );
    }
    Ok(latencies)
}

async fn run(args: Args) -> Result<()> {
    let timeout = Duration::from_secs(args.timeout);
    let gets = Arc::new(AtomicU64::new(0));
    let package =
        std::fs::read(&args.package).map_err(|e| format!("{}: {e}", args.package.display()))?;
    let poll_max = Duration::from_millis(args.poll_max_ms.max(1));
    let mut first = Client::connect(&args.urls[0], timeout, poll_max, gets.clone()).await?;
    let vnfd_id = onboard(&mut first, Bytes::from(package)).await?;
    let mut clients = Vec::new();
    for n in 0..args.workers.max(1) {
        let url = &args.urls[n % args.urls.len()];
        clients.push(Client::connect(url, timeout, poll_max, gets.clone()).await?);
    }
    gets.store(0, Ordering::Relaxed);
    let started = Instant::now();
    let until = started + Duration::from_secs(args.duration);
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|client| tokio::spawn(worker(client, vnfd_id.clone(), args.flavour.clone(), until)))
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.map_err(|e| format!("a worker: {e}"))??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut latencies: Vec<u64> = latencies
        .iter()
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .collect();
    latencies.sort_unstable();
    let ops = latencies.len() as f64;
    println!(
        "{} server(s), {} worker(s), {elapsed:.1} s: {} operations, {:.0} ops/s, {:.0} LCM state changes/s; \
         operation p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {:.0} polling GETs/s",
        args.urls.len(),
        args.workers,
        latencies.len(),
        ops / elapsed,
        3.0 * ops / elapsed,
        percentile_ms(&latencies, 50.0),
        percentile_ms(&latencies, 90.0),
        percentile_ms(&latencies, 99.0),
        percentile_ms(&latencies, 100.0),
        gets.load(Ordering::Relaxed) as f64 / elapsed,
    );
    Ok(())
}

fn main() -> ExitCode {
    tacker_benches::run_to_exit("lcm-load", run(Args::parse()))
}
