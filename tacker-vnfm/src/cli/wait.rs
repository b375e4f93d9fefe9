//! `--wait`: following an LCM operation occurrence or a package's onboarding until it
//! ends, with a progress line on stderr.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;
use url::Url;

use super::Error;
use super::client::{Api, Client, json_body};

/// How long and how often to poll.
#[derive(Debug, Clone, Copy)]
pub struct WaitOptions {
    /// The whole wait's bound.
    pub timeout: Duration,
    /// Time between two polls.
    pub interval: Duration,
}

/// Op states that end a wait.
pub const OP_FINAL_STATES: [&str; 4] = ["COMPLETED", "FAILED_TEMP", "FAILED", "ROLLED_BACK"];

/// Onboarding states that end a wait.
pub const ONBOARDING_FINAL_STATES: [&str; 2] = ["ONBOARDED", "ERROR"];

/// Parses a duration: plain seconds (`90`), or a number with `ms`, `s`, `m` or `h`
/// (`1h30m` is also accepted).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".to_owned());
    }
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| format!("{text:?}: a number needs a unit (ms, s, m, h)"))?;
        if digits == 0 {
            return Err(format!("{text:?}: expected a number, e.g. 30s, 10m, 1h"));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|e| format!("{text:?}: {e}"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let part = match &rest[..unit_len] {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => Duration::from_secs(number.saturating_mul(60)),
            "h" => Duration::from_secs(number.saturating_mul(3600)),
            unit => return Err(format!("{text:?}: unknown unit {unit:?} (ms, s, m, h)")),
        };
        total = total.saturating_add(part);
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// The progress line on stderr: redrawn in place on a terminal, one line per state
/// change otherwise.
#[derive(Debug)]
pub struct Progress {
    tty: bool,
    drawn: bool,
    last: Option<String>,
    started: Instant,
}

impl Progress {
    /// A progress line on this process's stderr.
    pub fn stderr() -> Self {
        Self {
            tty: std::io::stderr().is_terminal(),
            drawn: false,
            last: None,
            started: Instant::now(),
        }
    }

    /// Shows that `label` is in `state` now.
    pub fn update(&mut self, label: &str, state: &str) {
        let mut err = std::io::stderr().lock();
        let changed = self.last.as_deref() != Some(state);
        if self.tty {
            let elapsed = self.started.elapsed().as_secs();
            let _ = write!(err, "\r\x1b[2K{label}: {state} ({elapsed}s)");
            let _ = err.flush();
            self.drawn = true;
        } else if changed {
            let _ = writeln!(err, "{label}: {state}");
        }
        if changed {
            self.last = Some(state.to_owned());
        }
    }

    /// Ends the line on a terminal.
    pub fn finish(&mut self) {
        if self.tty && self.drawn {
            let _ = writeln!(std::io::stderr());
            self.drawn = false;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// A state observed before the wait that must not end it: a retry or rollback starts
/// from `FAILED_TEMP`, so the op's `FAILED_TEMP` entered at `entered` is the old one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stale {
    /// The state.
    pub state: String,
    /// Its `stateEnteredTime`.
    pub entered: Option<String>,
}

impl Stale {
    /// The state of `resource` read from the attribute `field`.
    pub fn of(resource: &Value, field: &str) -> Option<Self> {
        Some(Self {
            state: resource.get(field)?.as_str()?.to_owned(),
            entered: resource
                .get("stateEnteredTime")
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    }
}

/// What to follow.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The resource's API.
    pub api: Api,
    /// The attribute holding the state.
    pub field: &'a str,
    /// The states that end the wait.
    pub final_states: &'a [&'a str],
}

/// The op-occurrence target.
pub const OP: Target<'static> = Target {
    api: Api::Lcm,
    field: "operationState",
    final_states: &OP_FINAL_STATES,
};

/// The onboarding target.
pub const ONBOARDING: Target<'static> = Target {
    api: Api::Pkgm,
    field: "onboardingState",
    final_states: &ONBOARDING_FINAL_STATES,
};

/// Consecutive transport failures tolerated while polling (a restarting server).
const TRANSPORT_RETRIES: u32 = 10;

/// Polls `GET url` until the resource's state is final (and not `stale`), within
/// `options.timeout`, and returns the resource. `label` names it on the progress line.
pub async fn wait_for(
    client: &Client,
    url: &Url,
    target: Target<'_>,
    stale: Option<&Stale>,
    label: &str,
    options: WaitOptions,
    progress: &mut Progress,
) -> Result<Value, Error> {
    let deadline = Instant::now() + options.timeout;
    let mut failures = 0;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            progress.finish();
            return Err(Error::Timeout(format!(
                "{label}: still {} after {}s; stopped waiting (it goes on)",
                progress.last.as_deref().unwrap_or("unknown"),
                options.timeout.as_secs()
            )));
        }
        let request = client.request(Method::GET, target.api, url.clone());
        let polled = tokio::time::timeout(remaining, async {
            let response = client.send(request).await?;
            json_body(response).await
        })
        .await;
        match polled {
            Err(_elapsed) => continue,
            Ok(Err(Error::Transport(message))) => {
                failures += 1;
                if failures > TRANSPORT_RETRIES {
                    progress.finish();
                    return Err(Error::Transport(message));
                }
            }
            Ok(Err(other)) => {
                progress.finish();
                return Err(other);
            }
            Ok(Ok(resource)) => {
                failures = 0;
                let state = resource
                    .get(target.field)
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        Error::Protocol(format!("{url}: no {} in the response", target.field))
                    })?
                    .to_owned();
                progress.update(label, &state);
                let is_stale =
                    stale.is_some_and(|s| Stale::of(&resource, target.field).as_ref() == Some(s));
                if target.final_states.contains(&state.as_str()) && !is_stale {
                    progress.finish();
                    return Ok(resource);
                }
            }
        }
        let pause = options
            .interval
            .min(deadline.saturating_duration_since(Instant::now()));
        tokio::time::sleep(pause).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("-5").is_err());
    }

    #[test]
    fn stale_states_match_state_and_entry_time() {
        let op = json!({"operationState": "FAILED_TEMP", "stateEnteredTime": "t1"});
        let stale = Stale::of(&op, "operationState").expect("state");
        let again = json!({"operationState": "FAILED_TEMP", "stateEnteredTime": "t2"});
        assert_ne!(Stale::of(&again, "operationState").as_ref(), Some(&stale));
        assert_eq!(Stale::of(&op, "operationState").as_ref(), Some(&stale));
        assert_eq!(Stale::of(&json!({}), "operationState"), None);
    }
}
