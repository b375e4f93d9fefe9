//! Notifications: the [`NotificationSink`] seam that delivers them, the one outbox
//! [`NotificationSender`] for LCM, FM and package notifications, the [`Subscriptions`]
//! component every subscription kind shares, and in-process [`NotificationStream`]s.

pub mod local;
pub mod sender;
pub mod subscriptions;

pub use local::{IN_PROCESS_URI_PREFIX, LocalRoutes, NotificationStream, RoutingSink};
pub use sender::{NotificationSender, OutboxSignal, RunningSender, SenderConfig};
pub use subscriptions::{SubscriptionKind, Subscriptions};

use async_trait::async_trait;

use crate::Result;
use crate::model::SubscriptionAuthentication;

/// Where and how to deliver a subscription's notifications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationTarget {
    /// The subscription.
    pub subscription_id: String,
    /// The callback URI.
    pub callback_uri: String,
    /// How to authenticate to the callback.
    pub authentication: Option<SubscriptionAuthentication>,
}

/// Delivers notifications (HTTP with SOL013 authentication, or in-process).
///
/// The outbox sender calls `deliver` at least once per notification, in order per
/// subscription; a failed delivery is retried later with the same payload (same `id`),
/// so a receiver can drop duplicates.
#[async_trait]
pub trait NotificationSink: Send + Sync + std::fmt::Debug {
    /// Deliver one notification. `Ok` only when the receiver accepted it (HTTP 204).
    async fn deliver(
        &self,
        target: &NotificationTarget,
        notification: &serde_json::Value,
    ) -> Result<()>;

    /// Check that the callback answers (SOL003: `GET` on the callback URI returns 204)
    /// before a subscription is created.
    async fn check_callback(&self, target: &NotificationTarget) -> Result<()>;
}

/// An in-process sink: every notification goes to a channel the embedder reads.
#[derive(Debug, Clone)]
pub struct ChannelNotificationSink {
    sender: tokio::sync::mpsc::UnboundedSender<(NotificationTarget, serde_json::Value)>,
}

impl ChannelNotificationSink {
    /// A sink and the receiving end of its channel.
    pub fn new() -> (
        Self,
        tokio::sync::mpsc::UnboundedReceiver<(NotificationTarget, serde_json::Value)>,
    ) {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        (Self { sender }, receiver)
    }
}

#[async_trait]
impl NotificationSink for ChannelNotificationSink {
    async fn deliver(
        &self,
        target: &NotificationTarget,
        notification: &serde_json::Value,
    ) -> Result<()> {
        self.sender
            .send((target.clone(), notification.clone()))
            .map_err(|_| crate::Error::driver("channel", true, "the notification receiver is gone"))
    }

    async fn check_callback(&self, _target: &NotificationTarget) -> Result<()> {
        Ok(())
    }
}
