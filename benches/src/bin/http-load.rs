//! A small HTTP/1.1 load generator for the list benchmarks of `benches/http-list.sh`.
//!
//! `http-load URL [--clients 8] [--duration 10] [--warmup 2] [-H 'Version: 2.3.0']
//! [--expect-items 100] [--check-every 10] [--max-requests N]`: each client holds one
//! keep-alive connection and sends GET requests one after the other (a closed loop) for
//! the warm-up and then the measured duration; only answers that complete inside the
//! measured window count. It prints the requests per second and the latency
//! percentiles (each request from sending to the last byte of the body, from a sorted
//! list of every latency, nearest rank).
//!
//! Checks: every answer must be `200` with a body that starts with `[` and ends with `]`;
//! with `--expect-items N`, the first answer of every client and every `--check-every`th
//! after it is parsed as a JSON array of N objects with a string `id` (parsing every
//! body would take client CPU from the server on a small machine; `--check-every 1`
//! parses all). Parsing happens after the latency is taken, so it only delays the
//! client's next request. A failed check counts as an error; any error makes the exit
//! status non-zero.
//!
//! `http-load URL --walk [--max-pages N]` instead follows `Link: <…>; rel="next"` from
//! the first page to the last on one connection, parses every page, and reports the
//! pages, the items, whether any id came twice, and the time per page.
//!
//! Everything is bounded: requests time out (`--timeout`), the run ends after
//! warm-up + duration (or `--max-requests`), a walk after `--max-pages`.

use std::collections::HashSet;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{ACCEPT, HOST, HeaderName, HeaderValue, LINK};
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tacker_benches::percentile_ms;
use tokio::net::TcpStream;

#[derive(Debug, Parser)]
#[command(
    name = "http-load",
    about = "GETs one URL from N keep-alive clients for a fixed time and reports req/s and latency percentiles"
)]
struct Args {
    /// The URL to GET (`http://host:port/path?query`).
    url: String,
    /// Concurrent clients, one connection each.
    #[arg(long, default_value_t = 1)]
    clients: usize,
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of load before the measurement starts.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Stop after this many requests in all (warm-up included).
    #[arg(long)]
    max_requests: Option<u64>,
    /// A request header, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header")]
    headers: Vec<String>,
    /// Each checked body must be a JSON array of exactly this many objects with an `id`.
    #[arg(long)]
    expect_items: Option<usize>,
    /// Parse each client's first body and every Nth after it (0: none, 1: all).
    #[arg(long, default_value_t = 10)]
    check_every: u64,
    /// Seconds one request (or connecting) may take before it counts as an error.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    /// Worker threads of the client runtime.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Follow the `rel="next"` links from the URL to the last page instead.
    #[arg(long)]
    walk: bool,
    /// The most pages a walk reads.
    #[arg(long, default_value_t = 100_000)]
    max_pages: usize,
    /// Also report the CPU time this process (the server) used in the measured window,
    /// from `/proc/PID/stat`.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Clock ticks per second of `/proc/PID/stat` (`getconf CLK_TCK`).
    #[arg(long, default_value_t = 100)]
    clock_ticks: u32,
    /// A name for the run, printed first.
    #[arg(long, default_value = "GET")]
    label: String,
}

/// Where and what to ask.
struct Target {
    authority: String,
    path: String,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl Target {
    fn new(args: &Args) -> Result<Self, String> {
        let uri: Uri = args
            .url
            .parse()
            .map_err(|e| format!("URL {}: {e}", args.url))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!("URL {}: only http:// is supported", args.url));
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("URL {}: no host", args.url))?
            .to_string();
        let path = uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
        let mut headers = Vec::new();
        for header in &args.headers {
            let (name, value) = header
                .split_once(':')
                .ok_or_else(|| format!("header '{header}': expected 'Name: value'"))?;
            headers.push((
                HeaderName::try_from(name.trim()).map_err(|e| format!("header '{header}': {e}"))?,
                HeaderValue::try_from(value.trim())
                    .map_err(|e| format!("header '{header}': {e}"))?,
            ));
        }
        Ok(Self {
            authority,
            path,
            headers,
        })
    }
}

/// One answer, read to its end.
struct Answer {
    status: StatusCode,
    next: Option<String>,
    body: Bytes,
}

/// An element of a checked list: an object with a string `id` (other members ignored).
#[derive(Deserialize)]
struct Item {
    id: String,
}

type Sender = SendRequest<Empty<Bytes>>;

async fn connect(target: &Target) -> Result<Sender, String> {
    let stream = TcpStream::connect(&target.authority)
        .await
        .map_err(|e| format!("connecting to {}: {e}", target.authority))?;
    stream
        .set_nodelay(true)
        .map_err(|e| format!("TCP_NODELAY: {e}"))?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(async move {
        // Ends when the sender is dropped or the server closes the connection.
        let _ = connection.await;
    });
    Ok(sender)
}

async fn get(sender: &mut Sender, target: &Target, path: &str) -> Result<Answer, String> {
    sender
        .ready()
        .await
        .map_err(|e| format!("connection: {e}"))?;
    let mut request = Request::get(path)
        .header(HOST, target.authority.as_str())
        .header(ACCEPT, "application/json");
    for (name, value) in &target.headers {
        request = request.header(name, value);
    }
    let request = request
        .body(Empty::new())
        .map_err(|e| format!("request: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = response.status();
    let next = response
        .headers()
        .get(LINK)
        .and_then(|value| value.to_str().ok())
        .and_then(next_link);
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("reading the body: {e}"))?
        .to_bytes();
    Ok(Answer { status, next, body })
}

/// The target of the `rel="next"` entry of a `Link` header.
fn next_link(value: &str) -> Option<String> {
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let close = after.find('>')?;
        let params_end = after[close + 1..]
            .find('<')
            .map_or(after.len(), |i| close + 1 + i);
        let params = &after[close + 1..params_end];
        if params.contains("rel=\"next\"") || params.contains("rel=next") {
            return Some(after[..close].to_owned());
        }
        rest = &after[params_end..];
    }
    None
}

/// The path and query of a link (absolute or not), to send on our own connection.
fn link_path(link: &str) -> Result<String, String> {
    let uri: Uri = link.parse().map_err(|e| format!("next link {link}: {e}"))?;
    uri.path_and_query()
        .map(|p| p.as_str().to_owned())
        .ok_or_else(|| format!("next link {link}: no path"))
}

/// The cheap check every answer gets.
fn check_cheap(answer: &Answer) -> Result<(), String> {
    if answer.status != StatusCode::OK {
        return Err(format!(
            "status {} ({})",
            answer.status,
            String::from_utf8_lossy(&answer.body[..answer.body.len().min(200)])
        ));
    }
    let body = answer.body.trim_ascii();
    if body.first() != Some(&b'[') || body.last() != Some(&b']') {
        return Err("the body is not a JSON array".to_owned());
    }
    Ok(())
}

/// The full check: the body parses as an array of objects with an `id`.
fn parse_items(body: &[u8]) -> Result<Vec<Item>, String> {
    serde_json::from_slice::<Vec<Item>>(body)
        .map_err(|e| format!("the body is not an array of objects with an id: {e}"))
}

/// The timing of a run, shared by its clients.
struct Plan {
    measure_start: Instant,
    end: Instant,
    timeout: Duration,
    max_requests: Option<u64>,
    issued: AtomicU64,
    expect_items: Option<usize>,
    check_every: u64,
}

/// What one client saw.
#[derive(Default)]
struct ClientStats {
    /// Latencies of the measured answers, in nanoseconds.
    latencies: Vec<u64>,
    body_bytes: u64,
    errors: u64,
    checked: u64,
    first_error: Option<String>,
}

impl ClientStats {
    fn error(&mut self, message: String) {
        self.errors += 1;
        self.first_error.get_or_insert(message);
    }
}

async fn client(target: Arc<Target>, plan: Arc<Plan>) -> ClientStats {
    let mut stats = ClientStats::default();
    let mut sender: Option<Sender> = None;
    let mut answers = 0u64;
    while Instant::now() < plan.end {
        if let Some(max) = plan.max_requests
            && plan.issued.fetch_add(1, Ordering::Relaxed) >= max
        {
            break;
        }
        let connection = match sender.as_mut() {
            Some(connection) => connection,
            None => match tokio::time::timeout(plan.timeout, connect(&target)).await {
                Ok(Ok(connection)) => sender.insert(connection),
                Ok(Err(error)) => {
                    stats.error(error);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                Err(_) => {
                    stats.error("connecting timed out".to_owned());
                    continue;
                }
            },
        };
        let started = Instant::now();
        let result =
            tokio::time::timeout(plan.timeout, get(connection, &target, &target.path)).await;
        let finished = Instant::now();
        let measured = finished >= plan.measure_start && finished <= plan.end;
        let answer = match result {
            Ok(Ok(answer)) => answer,
            Ok(Err(error)) => {
                sender = None;
                stats.error(error);
                continue;
            }
            Err(_) => {
                sender = None;
                stats.error(format!("no answer within {:?}", plan.timeout));
                continue;
            }
        };
        if measured {
            let nanos = u64::try_from((finished - started).as_nanos()).unwrap_or(u64::MAX);
            stats.latencies.push(nanos);
            stats.body_bytes += answer.body.len() as u64;
        }
        if let Err(error) = check_cheap(&answer) {
            stats.error(error);
            continue;
        }
        let sampled =
            plan.check_every > 0 && (answers == 0 || answers.is_multiple_of(plan.check_every));
        answers += 1;
        if let (Some(expected), true) = (plan.expect_items, sampled) {
            stats.checked += 1;
            match parse_items(&answer.body) {
                Ok(items) if items.len() == expected => {}
                Ok(items) => stats.error(format!(
                    "{} items instead of {expected} in an answer",
                    items.len()
                )),
                Err(error) => stats.error(error),
            }
        }
    }
    stats
}

/// The CPU seconds (user and system) process `pid` has used so far.
fn cpu_seconds(pid: u32, clock_ticks: u32) -> Result<f64, String> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    // The command name (field 2) may hold spaces; the fields after it are plain.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the name.
    let ticks = |i: usize| -> Result<f64, String> {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .map(|t| t as f64)
            .ok_or_else(|| format!("{path}: no field {}", i + 3))
    };
    Ok((ticks(11)? + ticks(12)?) / f64::from(clock_ticks.max(1)))
}

/// The machine's CPU counters so far (`/proc/stat`, all cores): busy and total ticks.
fn machine_ticks() -> Result<(u64, u64), String> {
    let stat = std::fs::read_to_string("/proc/stat").map_err(|e| format!("/proc/stat: {e}"))?;
    let line = stat
        .lines()
        .find(|line| line.starts_with("cpu "))
        .ok_or("/proc/stat: no cpu line")?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|field| field.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let total: u64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
    Ok((total - idle, total))
}

fn seconds(value: f64, what: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value).map_err(|e| format!("--{what} {value}: {e}"))
}

async fn load(args: &Args) -> Result<bool, String> {
    let target = Arc::new(Target::new(args)?);
    let warmup = seconds(args.warmup, "warmup")?;
    let duration = seconds(args.duration, "duration")?;
    let start = Instant::now();
    let plan = Arc::new(Plan {
        measure_start: start + warmup,
        end: start + warmup + duration,
        timeout: seconds(args.timeout, "timeout")?,
        max_requests: args.max_requests,
        issued: AtomicU64::new(0),
        expect_items: args.expect_items,
        check_every: args.check_every,
    });
    let tasks: Vec<_> = (0..args.clients.max(1))
        .map(|_| tokio::spawn(client(target.clone(), plan.clone())))
        .collect();
    let cpu_before = match args.server_pid {
        Some(pid) => {
            tokio::time::sleep_until(plan.measure_start.into()).await;
            Some((cpu_seconds(pid, args.clock_ticks)?, machine_ticks()?))
        }
        None => None,
    };
    let mut latencies = Vec::new();
    let mut body_bytes = 0u64;
    let mut errors = 0u64;
    let mut checked = 0u64;
    let mut first_error = None;
    for task in tasks {
        let stats = task.await.map_err(|e| format!("a client failed: {e}"))?;
        latencies.extend(stats.latencies);
        body_bytes += stats.body_bytes;
        errors += stats.errors;
        checked += stats.checked;
        if first_error.is_none() {
            first_error = stats.first_error;
        }
    }
    let server_cpu = match (args.server_pid, cpu_before) {
        (Some(pid), Some((before, (busy, total)))) => {
            let (busy_after, total_after) = machine_ticks()?;
            let machine = (busy_after - busy) as f64 / (total_after - total).max(1) as f64;
            Some((cpu_seconds(pid, args.clock_ticks)? - before, machine))
        }
        _ => None,
    };
    // A run cut short by --max-requests is measured over the time it took.
    let measured = Instant::now()
        .min(plan.end)
        .saturating_duration_since(plan.measure_start)
        .as_secs_f64();
    latencies.sort_unstable();
    let count = latencies.len();
    let mean = latencies.iter().map(|&n| n as f64).sum::<f64>() / count.max(1) as f64 / 1e6;
    println!(
        "{}: {} client(s), {measured:.1} s measured after {:.1} s warm-up: {count} answers, \
         {:.1} req/s; latency p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms, \
         mean {mean:.3} ms; {:.1} KiB per answer; errors {errors}; {}",
        args.label,
        args.clients.max(1),
        args.warmup,
        count as f64 / measured.max(1e-9),
        percentile_ms(&latencies, 50.0),
        percentile_ms(&latencies, 90.0),
        percentile_ms(&latencies, 99.0),
        percentile_ms(&latencies, 100.0),
        body_bytes as f64 / count.max(1) as f64 / 1024.0,
        match args.expect_items {
            Some(items) => format!(
                "{checked} bodies parsed (each client's first and every {}th), {items} items each",
                args.check_every
            ),
            None => "bodies not parsed".to_owned(),
        },
    );
    if let Some((cpu, machine)) = server_cpu {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        println!(
            "  server CPU in the measured window: {cpu:.2} s, {:.0} us per answer, {:.0}% of one core; \
             all {cores} cores {:.0}% busy (server, this client and anything else)",
            cpu * 1e6 / count.max(1) as f64,
            cpu * 100.0 / measured.max(1e-9),
            machine * 100.0,
        );
    }
    if let Some(error) = first_error {
        println!("first error: {error}");
    }
    Ok(errors == 0 && count > 0)
}

async fn walk(args: &Args) -> Result<bool, String> {
    let target = Target::new(args)?;
    let timeout = seconds(args.timeout, "timeout")?;
    let mut sender = tokio::time::timeout(timeout, connect(&target))
        .await
        .map_err(|_| "connecting timed out".to_owned())??;
    let mut path = target.path.clone();
    let mut ids = HashSet::new();
    let mut items = 0usize;
    let mut latencies = Vec::new();
    let started = Instant::now();
    let mut complete = false;
    while latencies.len() < args.max_pages {
        let sent = Instant::now();
        let answer = tokio::time::timeout(timeout, get(&mut sender, &target, &path))
            .await
            .map_err(|_| format!("no answer within {timeout:?} for {path}"))??;
        latencies.push(u64::try_from(sent.elapsed().as_nanos()).unwrap_or(u64::MAX));
        check_cheap(&answer).map_err(|e| format!("{path}: {e}"))?;
        let page = parse_items(&answer.body).map_err(|e| format!("{path}: {e}"))?;
        items += page.len();
        ids.extend(page.into_iter().map(|item| item.id));
        match answer.next {
            Some(link) => path = link_path(&link)?,
            None => {
                complete = true;
                break;
            }
        }
    }
    let total = started.elapsed().as_secs_f64();
    let pages = latencies.len();
    latencies.sort_unstable();
    println!(
        "{}: walked {pages} page(s){} in {total:.4} s: {items} items, {} distinct ids; \
         per page p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        args.label,
        if complete {
            " to the last"
        } else {
            " (stopped at --max-pages)"
        },
        ids.len(),
        percentile_ms(&latencies, 50.0),
        percentile_ms(&latencies, 99.0),
        percentile_ms(&latencies, 100.0),
    );
    Ok(ids.len() == items)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("http-load: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = if args.walk {
        runtime.block_on(walk(&args))
    } else {
        runtime.block_on(load(&args))
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("http-load: {error}");
            ExitCode::FAILURE
        }
    }
}
