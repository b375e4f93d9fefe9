//! [`Subscriptions`]: one component for the LCM, FM and package management
//! subscriptions. Each kind says how its request becomes a subscription
//! ([`SubscriptionKind`]); checking the callback, sealing the authentication, links,
//! storage, paging and removal are the same for all.

use std::marker::PhantomData;
use std::sync::Arc;

use chrono::Utc;

use super::{NotificationSink, NotificationTarget};
use crate::model::{
    FmSubscription, FmSubscriptionRequest, LccnSubscription, LccnSubscriptionRequest,
    LcmOpOccNotificationVerbosityType, Link, PkgmSubscription, PkgmSubscriptionRequest, SelfLink,
    SubscriptionAuthentication,
};
use crate::store::{
    FmSubscriptionRecord, LccnSubscriptionRecord, ListQuery, Page, PkgmSubscriptionRecord, Sealed,
    Store, StoreExt, StoredRecord,
};
use crate::vim::Sealer;
use crate::{Result, TenantId, new_id};

/// A kind of subscription: its request, what the API serves, and its stored record.
pub trait SubscriptionKind: StoredRecord {
    /// The subscription request (`LccnSubscriptionRequest`, …).
    type Request: Send + 'static;
    /// The subscription as served (`LccnSubscription`, …).
    type Subscription: Clone + Send + Sync + 'static;
    /// Where its resources live under the API root, e.g. `vnflcm/v2/subscriptions`.
    const PATH: &'static str;

    /// The callback URI and authentication of a request.
    fn callback(request: &Self::Request) -> (&str, Option<&SubscriptionAuthentication>);

    /// The subscription a request asks for, with its identifier and self link.
    fn accept(id: String, request: Self::Request, links: SelfLink) -> Self::Subscription;

    /// The record of a subscription and its sealed authentication.
    fn record(subscription: Self::Subscription, authentication: Option<Sealed>) -> Self;

    /// The subscription of a record.
    fn subscription(self) -> Self::Subscription;

    /// The identifier of a subscription.
    fn subscription_id(subscription: &Self::Subscription) -> &str;
}

/// The parts every subscription kind has alike: the request's callback and
/// authentication, and the record of the subscription, its sealed authentication and
/// its creation time.
macro_rules! record_accessors {
    () => {
        fn callback(request: &Self::Request) -> (&str, Option<&SubscriptionAuthentication>) {
            (&request.callback_uri, request.authentication.as_ref())
        }

        fn record(subscription: Self::Subscription, authentication: Option<Sealed>) -> Self {
            Self {
                subscription,
                authentication,
                created_at: Utc::now(),
            }
        }

        fn subscription(self) -> Self::Subscription {
            self.subscription
        }

        fn subscription_id(subscription: &Self::Subscription) -> &str {
            &subscription.id
        }
    };
}

impl SubscriptionKind for LccnSubscriptionRecord {
    type Request = LccnSubscriptionRequest;
    type Subscription = LccnSubscription;
    const PATH: &'static str = "vnflcm/v2/subscriptions";

    fn accept(id: String, request: Self::Request, links: SelfLink) -> Self::Subscription {
        LccnSubscription {
            id,
            filter: request.filter,
            callback_uri: request.callback_uri,
            verbosity: request
                .verbosity
                .unwrap_or(LcmOpOccNotificationVerbosityType::Full),
            links,
        }
    }

    record_accessors!();
}

impl SubscriptionKind for FmSubscriptionRecord {
    type Request = FmSubscriptionRequest;
    type Subscription = FmSubscription;
    const PATH: &'static str = "vnffm/v1/subscriptions";

    fn accept(id: String, request: Self::Request, links: SelfLink) -> Self::Subscription {
        FmSubscription {
            id,
            filter: request.filter,
            callback_uri: request.callback_uri,
            links,
        }
    }

    record_accessors!();
}

impl SubscriptionKind for PkgmSubscriptionRecord {
    type Request = PkgmSubscriptionRequest;
    type Subscription = PkgmSubscription;
    const PATH: &'static str = "vnfpkgm/v2/subscriptions";

    fn accept(id: String, request: Self::Request, links: SelfLink) -> Self::Subscription {
        PkgmSubscription {
            id,
            filter: request.filter,
            callback_uri: request.callback_uri,
            links,
        }
    }

    record_accessors!();
}

/// The subscriptions of one kind. Cheap to clone.
pub struct Subscriptions<K> {
    store: Arc<dyn Store>,
    sink: Option<Arc<dyn NotificationSink>>,
    sealer: Sealer,
    api_root: String,
    kind: PhantomData<fn() -> K>,
}

impl<K> Clone for Subscriptions<K> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            sink: self.sink.clone(),
            sealer: self.sealer.clone(),
            api_root: self.api_root.clone(),
            kind: PhantomData,
        }
    }
}

impl<K> std::fmt::Debug for Subscriptions<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriptions")
            .field("kind", &std::any::type_name::<K>())
            .finish_non_exhaustive()
    }
}

impl<K: SubscriptionKind> Subscriptions<K> {
    /// Subscriptions kept in `store`, their authentication sealed with `sealer`, their
    /// callbacks checked with `sink` (when there is one) before they are accepted.
    pub fn new(
        store: Arc<dyn Store>,
        sink: Option<Arc<dyn NotificationSink>>,
        sealer: Sealer,
        api_root: impl Into<String>,
    ) -> Self {
        Self {
            store,
            sink,
            sealer,
            api_root: api_root.into(),
            kind: PhantomData,
        }
    }

    /// Creates a subscription; with a sink, its callback must answer first.
    pub async fn subscribe(
        &self,
        tenant: &TenantId,
        request: K::Request,
    ) -> Result<K::Subscription> {
        let id = new_id();
        let (callback_uri, authentication) = K::callback(&request);
        if let Some(sink) = &self.sink {
            sink.check_callback(&NotificationTarget {
                subscription_id: id.clone(),
                callback_uri: callback_uri.to_owned(),
                authentication: authentication.cloned(),
            })
            .await?;
        }
        let sealed = authentication
            .map(|a| {
                self.sealer
                    .seal_json(&Sealer::subscription_context(tenant, &id), a)
            })
            .transpose()?;
        let links = SelfLink {
            self_: Link::new(format!("{}/{}/{id}", self.api_root, K::PATH)),
        };
        let subscription = K::accept(id, request, links);
        self.store
            .insert(tenant, K::record(subscription.clone(), sealed))
            .await?;
        Ok(subscription)
    }

    /// One subscription.
    pub async fn get(&self, tenant: &TenantId, id: &str) -> Result<K::Subscription> {
        Ok(self
            .store
            .get_typed::<K>(tenant, id)
            .await?
            .value
            .subscription())
    }

    /// Subscriptions, filtered and paged.
    pub async fn list(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
    ) -> Result<Page<K::Subscription>> {
        let page = self.store.list_typed::<K>(tenant, query).await?;
        Ok(page.map(|v| v.value.subscription()))
    }

    /// Every subscription of the tenant (for matching notifications).
    pub async fn all(&self, tenant: &TenantId) -> Result<Vec<K::Subscription>> {
        Ok(self.list(tenant, &ListQuery::all()).await?.items)
    }

    /// Removes a subscription and its undelivered notifications.
    pub async fn unsubscribe(&self, tenant: &TenantId, id: &str) -> Result<()> {
        self.store.delete::<K>(tenant, id, None).await
    }
}
