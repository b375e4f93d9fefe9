//! [`NotificationSender`]: the one outbox sender. It delivers every notification the
//! store holds (LCM, FM and package management alike) through a [`NotificationSink`],
//! in order per subscription, with retries; nothing else needs to run for it to work.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{NotificationSink, NotificationTarget};
use crate::store::{OutboxEntry, Record, RecordKind, Store};
use crate::vim::Sealer;
use crate::{Error, Result};

/// How the sender retries.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SenderConfig {
    /// This sender's name in notification claims (unique per process).
    pub owner: String,
    /// First delay before redelivering a failed notification; doubles each attempt.
    pub backoff: Duration,
    /// Longest delay between delivery attempts.
    pub max_backoff: Duration,
    /// Attempts after which a notification is dropped (3 at most for a refusal that
    /// will not change by itself, such as a 4xx answer).
    pub max_attempts: u32,
    /// Deliveries in flight at once (each subscription has at most one).
    pub max_in_flight: usize,
}

impl Default for SenderConfig {
    fn default() -> Self {
        Self {
            owner: format!("vnfm-{}-sender", crate::new_id()),
            backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(60),
            max_attempts: 20,
            max_in_flight: 64,
        }
    }
}

impl SenderConfig {
    /// The same with `owner` as the claim owner.
    pub fn with_owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = owner.into();
        self
    }

    /// The same with another retry schedule.
    pub fn with_backoff(mut self, backoff: Duration, max_backoff: Duration) -> Self {
        self.backoff = backoff;
        self.max_backoff = max_backoff;
        self
    }

    /// The same with another attempt limit.
    pub fn with_max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts;
        self
    }
}

/// A wake-up call for the sender: components that commit notifications ring it so they
/// go out at once instead of at the sender's next poll. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct OutboxSignal(Arc<Notify>);

impl OutboxSignal {
    /// A new signal.
    pub fn new() -> Self {
        Self::default()
    }

    /// Notifications may be waiting.
    pub fn ring(&self) {
        self.0.notify_one();
    }

    async fn rung(&self) {
        self.0.notified().await;
    }
}

/// Delivers the store's outbox. Cheap to clone; [`NotificationSender::start`] runs it.
#[derive(Debug, Clone)]
pub struct NotificationSender {
    inner: Arc<SenderInner>,
}

#[derive(Debug)]
struct SenderInner {
    store: Arc<dyn Store>,
    sink: Arc<dyn NotificationSink>,
    sealer: Sealer,
    config: SenderConfig,
    signal: OutboxSignal,
}

/// A running [`NotificationSender`].
#[derive(Debug)]
pub struct RunningSender {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl RunningSender {
    /// Stops claiming, lets the deliveries in flight end, and returns.
    pub async fn shutdown(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }

    /// Stops at once, as a crash would.
    pub fn abort(self) {
        self.stop.cancel();
        self.task.abort();
    }
}

impl NotificationSender {
    /// A sender over `store`'s outbox. `sealer` opens the subscriptions' sealed
    /// authentication: the one the subscriptions were created with.
    pub fn new(
        store: Arc<dyn Store>,
        sink: Arc<dyn NotificationSink>,
        sealer: Sealer,
        config: SenderConfig,
        signal: OutboxSignal,
    ) -> Self {
        Self {
            inner: Arc::new(SenderInner {
                store,
                sink,
                sealer,
                config,
                signal,
            }),
        }
    }

    /// The signal that wakes this sender.
    pub fn signal(&self) -> &OutboxSignal {
        &self.inner.signal
    }

    /// Starts delivering on the current tokio runtime.
    pub fn start(&self) -> RunningSender {
        let stop = CancellationToken::new();
        let task = tokio::spawn(self.clone().run(stop.clone()));
        RunningSender { stop, task }
    }

    async fn run(self, stop: CancellationToken) {
        // Deliveries run side by side; a subscription's next notification is not
        // claimable while its head is in flight, so each subscription stays in order and
        // a slow callback holds up only its own subscription.
        let mut in_flight = tokio::task::JoinSet::new();
        let config = &self.inner.config;
        while !stop.is_cancelled() {
            while in_flight.try_join_next().is_some() {}
            let room = config.max_in_flight.max(1).saturating_sub(in_flight.len());
            let mut claimed_any = false;
            if room > 0 {
                match self
                    .inner
                    .store
                    .claim_notifications(&config.owner, Utc::now(), Duration::from_secs(60), room)
                    .await
                {
                    Ok(entries) => {
                        claimed_any = !entries.is_empty();
                        for entry in entries {
                            let sender = self.clone();
                            in_flight.spawn(async move {
                                sender.deliver(entry).await;
                                sender.inner.signal.ring();
                            });
                        }
                    }
                    Err(error) => tracing::warn!(%error, "claiming notifications failed"),
                }
            }
            if claimed_any {
                continue;
            }
            let idle = config.backoff.min(Duration::from_millis(50));
            tokio::select! {
                () = stop.cancelled() => break,
                () = self.inner.signal.rung() => {}
                () = tokio::time::sleep(idle) => {}
            }
        }
        while in_flight.join_next().await.is_some() {}
    }

    async fn deliver(&self, entry: OutboxEntry) {
        let store = self.inner.store.as_ref();
        let target = match self.target(&entry).await {
            Ok(target) => target,
            Err(Error::NotFound { .. }) => {
                // The subscription is gone: nobody is left to notify.
                let _ = store.ack_notification(&entry).await;
                return;
            }
            Err(error) => {
                self.deliver_later(&entry, &error).await;
                return;
            }
        };
        match self.inner.sink.deliver(&target, &entry.payload).await {
            Ok(()) => {
                let _ = store.ack_notification(&entry).await;
            }
            Err(error) => {
                // A refusal that will not change by itself (a 4xx, bad authentication
                // parameters) is given fewer attempts, so it does not hold the
                // subscription's later notifications back for long.
                let limit = if error.is_retryable() {
                    self.inner.config.max_attempts
                } else {
                    self.inner.config.max_attempts.min(3)
                };
                if entry.attempts + 1 >= limit {
                    tracing::warn!(
                        subscription = entry.subscription_id,
                        %error,
                        "notification dropped after {} attempts",
                        entry.attempts + 1
                    );
                    let _ = store.ack_notification(&entry).await;
                } else {
                    self.deliver_later(&entry, &error).await;
                }
            }
        }
    }

    async fn deliver_later(&self, entry: &OutboxEntry, error: &Error) {
        let config = &self.inner.config;
        let factor = 2u32.saturating_pow(entry.attempts.min(16));
        let delay = config
            .backoff
            .saturating_mul(factor)
            .min(config.max_backoff);
        let not_before = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
        if let Err(store_error) = self
            .inner
            .store
            .retry_notification(entry, not_before, &error.to_string())
            .await
        {
            tracing::warn!(%store_error, "a failed notification could not be rescheduled; its claim expires instead");
        }
    }

    async fn target(&self, entry: &OutboxEntry) -> Result<NotificationTarget> {
        let mut found = None;
        for kind in RecordKind::SUBSCRIPTIONS {
            match self
                .inner
                .store
                .get(&entry.tenant, kind, &entry.subscription_id)
                .await
            {
                Ok(record) => {
                    found = Some(record);
                    break;
                }
                Err(Error::NotFound { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        let found =
            found.ok_or_else(|| Error::not_found("subscription", &entry.subscription_id))?;
        let (callback_uri, authentication) = match found.value {
            Record::LccnSubscription(r) => (r.subscription.callback_uri, r.authentication),
            Record::PkgmSubscription(r) => (r.subscription.callback_uri, r.authentication),
            Record::FmSubscription(r) => (r.subscription.callback_uri, r.authentication),
            _ => return Err(Error::Internal("not a subscription".to_owned())),
        };
        let authentication = match authentication {
            None => None,
            Some(sealed) => {
                let context = Sealer::subscription_context(&entry.tenant, &entry.subscription_id);
                Some(self.inner.sealer.open_json(&context, &sealed)?)
            }
        };
        Ok(NotificationTarget {
            subscription_id: entry.subscription_id.clone(),
            callback_uri,
            authentication,
        })
    }
}
