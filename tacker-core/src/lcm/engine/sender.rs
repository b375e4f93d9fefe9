//! The notification sender: delivers the outbox through the sink, in order per
//! subscription, with retries.

use super::*;

impl VnfLcm {
    pub(super) async fn sender_loop(self, stop: CancellationToken) {
        let Some(sink) = self.inner.sink.clone() else {
            return;
        };
        let owner = format!("{}-sender", self.inner.config.executor_id);
        // Deliveries run side by side; a subscription's next notification is not
        // claimable while its head is in flight, so each subscription stays in order and
        // a slow callback holds up only its own subscription.
        let mut in_flight = tokio::task::JoinSet::new();
        const MAX_IN_FLIGHT: usize = 64;
        while !stop.is_cancelled() {
            while in_flight.try_join_next().is_some() {}
            let room = MAX_IN_FLIGHT.saturating_sub(in_flight.len());
            let mut claimed_any = false;
            if room > 0 {
                match self
                    .store()
                    .claim_notifications(&owner, Utc::now(), Duration::from_secs(60), room)
                    .await
                {
                    Ok(entries) => {
                        claimed_any = !entries.is_empty();
                        for entry in entries {
                            let sink = sink.clone();
                            let engine = self.clone();
                            in_flight.spawn(async move {
                                engine.deliver(sink.as_ref(), entry).await;
                                engine.inner.outbox.notify_one();
                            });
                        }
                    }
                    Err(error) => tracing::warn!(%error, "claiming notifications failed"),
                }
            }
            if claimed_any {
                continue;
            }
            let idle = self
                .inner
                .config
                .notification_backoff
                .min(Duration::from_millis(50));
            tokio::select! {
                () = stop.cancelled() => break,
                () = self.inner.outbox.notified() => {}
                () = tokio::time::sleep(idle) => {}
            }
        }
        while in_flight.join_next().await.is_some() {}
    }

    async fn deliver(&self, sink: &dyn NotificationSink, entry: crate::store::OutboxEntry) {
        let target = match self.target(&entry).await {
            Ok(target) => target,
            Err(Error::NotFound { .. }) => {
                // The subscription is gone: nobody is left to notify.
                let _ = self.store().ack_notification(&entry).await;
                return;
            }
            Err(error) => {
                self.deliver_later(&entry, &error).await;
                return;
            }
        };
        match sink.deliver(&target, &entry.payload).await {
            Ok(()) => {
                let _ = self.store().ack_notification(&entry).await;
            }
            Err(error) => {
                // A refusal that will not change by itself (a 4xx, bad authentication
                // parameters) is given fewer attempts, so it does not hold the
                // subscription's later notifications back for long.
                let limit = if error.is_retryable() {
                    self.inner.config.notification_max_attempts
                } else {
                    self.inner.config.notification_max_attempts.min(3)
                };
                if entry.attempts + 1 >= limit {
                    tracing::warn!(
                        subscription = entry.subscription_id,
                        %error,
                        "notification dropped after {} attempts",
                        entry.attempts + 1
                    );
                    let _ = self.store().ack_notification(&entry).await;
                } else {
                    self.deliver_later(&entry, &error).await;
                }
            }
        }
    }

    async fn deliver_later(&self, entry: &crate::store::OutboxEntry, error: &Error) {
        let factor = 2u32.saturating_pow(entry.attempts.min(16));
        let delay = self
            .inner
            .config
            .notification_backoff
            .saturating_mul(factor)
            .min(self.inner.config.notification_max_backoff);
        let not_before = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
        if let Err(store_error) = self
            .store()
            .retry_notification(entry, not_before, &error.to_string())
            .await
        {
            tracing::warn!(%store_error, "a failed notification could not be rescheduled; its claim expires instead");
        }
    }

    async fn target(&self, entry: &crate::store::OutboxEntry) -> Result<NotificationTarget> {
        let mut found = None;
        for kind in RecordKind::SUBSCRIPTIONS {
            match self
                .store()
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
            Record::LccnSubscription(r) => (
                r.subscription.callback_uri.clone(),
                r.authentication.clone(),
            ),
            Record::PkgmSubscription(r) => (
                r.subscription.callback_uri.clone(),
                r.authentication.clone(),
            ),
            Record::FmSubscription(r) => (
                r.subscription.callback_uri.clone(),
                r.authentication.clone(),
            ),
            _ => return Err(Error::Internal("not a subscription".to_owned())),
        };
        let authentication = match authentication {
            None => None,
            Some(sealed) => {
                let context =
                    crate::vim::Sealer::subscription_context(&entry.tenant, &entry.subscription_id);
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
