//! In-process notification streams: a subscription whose callback is this process.
//!
//! [`LocalRoutes`] gives a subscription a callback URI of its own
//! (`urn:tacker:in-process:<id>`, never one the embedder has to invent) and a bounded
//! channel; [`RoutingSink`] delivers notifications for such URIs to their channel and
//! everything else to the embedder's sink (HTTP). A full channel refuses the delivery as
//! retryable, so the outbox keeps the notification and memory stays bounded by the
//! channel's capacity. Delivery to a stream is at least once, in order, like any other
//! subscription's, for as long as the stream lives; notifications for a stream that was
//! dropped (or belonged to a process that stopped) are discarded.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::{NotificationSink, NotificationTarget};
use crate::{Error, Result};

/// The prefix of in-process callback URIs.
pub const IN_PROCESS_URI_PREFIX: &str = "urn:tacker:in-process:";

type Routes = Arc<Mutex<HashMap<String, mpsc::Sender<serde_json::Value>>>>;

/// The in-process streams of this process. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct LocalRoutes {
    routes: Routes,
}

impl LocalRoutes {
    /// No streams yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A new route: its callback URI and the stream its notifications arrive on
    /// (`capacity` notifications wait at most; more wait in the outbox).
    pub fn open(&self, capacity: usize) -> (String, NotificationStream) {
        let uri = format!("{IN_PROCESS_URI_PREFIX}{}", crate::new_id());
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        if let Ok(mut routes) = self.routes.lock() {
            routes.insert(uri.clone(), sender);
        }
        let stream = NotificationStream {
            uri: uri.clone(),
            receiver,
            routes: self.routes.clone(),
            on_drop: None,
        };
        (uri, stream)
    }

    fn route(&self, uri: &str) -> Option<mpsc::Sender<serde_json::Value>> {
        self.routes.lock().ok()?.get(uri).cloned()
    }
}

/// Notifications of one in-process subscription, oldest first. Dropping it ends the
/// subscription.
pub struct NotificationStream {
    uri: String,
    receiver: mpsc::Receiver<serde_json::Value>,
    routes: Routes,
    on_drop: Option<Box<dyn FnOnce() + Send>>,
}

impl std::fmt::Debug for NotificationStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotificationStream")
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

impl NotificationStream {
    /// The callback URI the subscription was created with.
    pub fn callback_uri(&self) -> &str {
        &self.uri
    }

    /// The next notification (the ETSI JSON body); `None` once the VNFM is gone.
    pub async fn next(&mut self) -> Option<serde_json::Value> {
        self.receiver.recv().await
    }

    /// Runs `action` when the stream is dropped (the façade removes the subscription).
    pub fn on_drop(mut self, action: impl FnOnce() + Send + 'static) -> Self {
        self.on_drop = Some(Box::new(action));
        self
    }
}

impl futures::Stream for NotificationStream {
    type Item = serde_json::Value;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.receiver.poll_recv(cx)
    }
}

impl Drop for NotificationStream {
    fn drop(&mut self) {
        if let Ok(mut routes) = self.routes.lock() {
            routes.remove(&self.uri);
        }
        if let Some(action) = self.on_drop.take() {
            action();
        }
    }
}

/// Delivers in-process URIs to their stream and every other URI to `remote`.
#[derive(Debug, Clone)]
pub struct RoutingSink {
    local: LocalRoutes,
    remote: Option<Arc<dyn NotificationSink>>,
}

impl RoutingSink {
    /// Routes over `local`, with `remote` for the rest. Without a remote sink,
    /// subscriptions with other callbacks are accepted unchecked, and their
    /// notifications fail delivery, are retried with backoff and finally dropped like
    /// any undeliverable notification.
    pub fn new(local: LocalRoutes, remote: Option<Arc<dyn NotificationSink>>) -> Self {
        Self { local, remote }
    }
}

fn no_remote(uri: &str) -> Error {
    Error::driver(
        "notification",
        true,
        format!("no notification sink is configured for callback {uri}"),
    )
}

#[async_trait]
impl NotificationSink for RoutingSink {
    async fn deliver(
        &self,
        target: &NotificationTarget,
        notification: &serde_json::Value,
    ) -> Result<()> {
        if target.callback_uri.starts_with(IN_PROCESS_URI_PREFIX) {
            let Some(route) = self.local.route(&target.callback_uri) else {
                tracing::debug!(
                    subscription = target.subscription_id,
                    "in-process stream is gone; notification discarded"
                );
                return Ok(());
            };
            return match route.try_send(notification.clone()) {
                Ok(()) => Ok(()),
                Err(mpsc::error::TrySendError::Full(_)) => Err(Error::driver(
                    "notification",
                    true,
                    "the in-process stream is full; the notification waits in the outbox",
                )),
                Err(mpsc::error::TrySendError::Closed(_)) => Ok(()),
            };
        }
        match &self.remote {
            Some(remote) => remote.deliver(target, notification).await,
            None => Err(no_remote(&target.callback_uri)),
        }
    }

    async fn check_callback(&self, target: &NotificationTarget) -> Result<()> {
        if target.callback_uri.starts_with(IN_PROCESS_URI_PREFIX) {
            return match self.local.route(&target.callback_uri) {
                Some(_) => Ok(()),
                None => Err(Error::InvalidRequest(format!(
                    "callbackUri {} is reserved for in-process streams of this VNFM",
                    target.callback_uri
                ))),
            };
        }
        match &self.remote {
            Some(remote) => remote.check_callback(target).await,
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(uri: &str) -> NotificationTarget {
        NotificationTarget {
            subscription_id: "s".to_owned(),
            callback_uri: uri.to_owned(),
            authentication: None,
        }
    }

    #[tokio::test]
    async fn in_process_uris_reach_their_stream_and_a_full_one_pushes_back() {
        let routes = LocalRoutes::new();
        let sink = RoutingSink::new(routes.clone(), None);
        let (uri, mut stream) = routes.open(1);
        sink.check_callback(&target(&uri)).await.expect("own uri");
        sink.deliver(&target(&uri), &serde_json::json!({"n": 1}))
            .await
            .expect("delivered");
        let full = sink
            .deliver(&target(&uri), &serde_json::json!({"n": 2}))
            .await
            .expect_err("full");
        assert!(full.is_retryable(), "{full}");
        assert_eq!(stream.next().await, Some(serde_json::json!({"n": 1})));
        drop(stream);
        // A dropped stream's notifications are discarded, not retried for ever.
        sink.deliver(&target(&uri), &serde_json::json!({"n": 3}))
            .await
            .expect("discarded");
        // Nobody can subscribe with an in-process URI this process did not hand out.
        let forged = format!("{IN_PROCESS_URI_PREFIX}forged");
        assert!(sink.check_callback(&target(&forged)).await.is_err());
        // Other callbacks need a remote sink to be delivered.
        let error = sink
            .deliver(&target("http://127.0.0.1:1/cb"), &serde_json::json!({}))
            .await
            .expect_err("no remote");
        assert!(
            error.to_string().contains("no notification sink"),
            "{error}"
        );
    }
}
