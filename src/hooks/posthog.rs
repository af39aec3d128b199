//! [`PostHogHook`]: rejections as PostHog exceptions, captured off the
//! request path. Needs the `posthog` feature.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use posthog_rs::CaptureExceptionOptions;
use tokio::sync::mpsc;

use super::on_rejection::OnRejection;
use crate::report::InvalidScopeRejection;

/// How many rejections may wait for the worker before new ones are dropped.
const DEFAULT_QUEUE: usize = 1024;

/// A hook that sends each rejection to PostHog Error Tracking as an
/// exception (`OAuth invalid_scope rejection`) with the rejection's fields as
/// properties: `missing_scopes`, `requested_scopes`, `grantable_scopes`,
/// `client_id`, `user_agent`, `status`, and with `.known_scopes`,
/// `unknown_scopes` and `ungranted_known_scopes`.
///
/// The request path only clones the rejection into a bounded queue
/// (`try_send`, never waiting); a worker task hands it to the client, which
/// queues and sends in the background on its own (a slow or failing PostHog
/// is the client's to retry or drop, never the request's to wait for). When
/// our queue is full, because rejections arrive faster than the worker
/// hands them over, the rejection is dropped and counted in
/// [`dropped`](PostHogHook::dropped).
///
/// # Example
///
/// ```no_run
/// use invalid_scope_observer::{InvalidScopeObserverLayer, PostHogHook, ScopeSet};
///
/// # async fn run() {
/// let posthog = posthog_rs::client(("phc_project_api_key", "https://eu.i.posthog.com")).await;
/// let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("openid email"))
///     .on_rejection(PostHogHook::spawn(posthog)); // inside a tokio runtime
/// # drop(layer);
/// # }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "posthog")))]
#[derive(Clone)]
pub struct PostHogHook {
    queue: mpsc::Sender<InvalidScopeRejection>,
    dropped: Arc<AtomicU64>,
}

impl PostHogHook {
    /// Spawns the capture worker on the current tokio runtime, with room for
    /// 1024 waiting rejections. Pass the client itself, or an `Arc` of it to
    /// keep a handle (to `flush` on shutdown, say).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    ///
    /// ```no_run
    /// # use invalid_scope_observer::PostHogHook;
    /// # async fn run() {
    /// let client = posthog_rs::client(("phc_project_api_key", "https://eu.i.posthog.com")).await;
    /// let hook = PostHogHook::spawn(client);
    /// # drop(hook);
    /// # }
    /// ```
    pub fn spawn(client: impl Into<Arc<posthog_rs::Client>>) -> Self {
        Self::spawn_with_queue(client, DEFAULT_QUEUE)
    }

    /// Like [`spawn`](PostHogHook::spawn), with room for `capacity` waiting
    /// rejections.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, or when `capacity` is 0.
    ///
    /// ```no_run
    /// # use invalid_scope_observer::PostHogHook;
    /// # async fn run() {
    /// let client = posthog_rs::client(("phc_project_api_key", "https://eu.i.posthog.com")).await;
    /// let hook = PostHogHook::spawn_with_queue(client, 16 * 1024);
    /// # drop(hook);
    /// # }
    /// ```
    pub fn spawn_with_queue(client: impl Into<Arc<posthog_rs::Client>>, capacity: usize) -> Self {
        let client = client.into();
        let (queue, mut waiting) = mpsc::channel::<InvalidScopeRejection>(capacity);
        tokio::spawn(async move {
            while let Some(rejection) = waiting.recv().await {
                let Ok(options) = exception_options(&rejection) else {
                    continue;
                };
                // The client queues and sends in the background; an error
                // here is PostHog's, never the request's.
                let _ = client.capture_exception_with(&rejection, options).await;
            }
        });
        Self {
            queue,
            dropped: Arc::new(AtomicU64::new(0)),
        }
    }

    /// How many rejections were dropped because this hook's queue was full
    /// (drops inside the PostHog client are not counted here).
    ///
    /// ```no_run
    /// # use invalid_scope_observer::PostHogHook;
    /// # async fn run() {
    /// let client = posthog_rs::client(("phc_project_api_key", "https://eu.i.posthog.com")).await;
    /// let hook = PostHogHook::spawn(client);
    /// assert_eq!(hook.dropped(), 0);
    /// # }
    /// ```
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl OnRejection for PostHogHook {
    fn on_rejection(&self, rejection: &InvalidScopeRejection) {
        if self.queue.try_send(rejection.clone()).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl fmt::Debug for PostHogHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostHogHook")
            .field("capacity", &self.queue.max_capacity())
            .field("dropped", &self.dropped())
            .finish()
    }
}

fn exception_options(
    rejection: &InvalidScopeRejection,
) -> Result<CaptureExceptionOptions, posthog_rs::Error> {
    let mut options = CaptureExceptionOptions::new()
        .fingerprint(rejection.event_name())
        .level("warning")
        .property("missing_scopes", rejection.missing_scopes().to_string())?
        .property("requested_scopes", rejection.requested_scopes().to_string())?
        .property("grantable_scopes", rejection.grantable_scopes().to_string())?
        .property("client_id", rejection.client_id())?
        .property("user_agent", rejection.user_agent())?
        .property("status", rejection.status().as_u16())?;
    if let Some(grant_type) = rejection.grant_type() {
        options = options.property("grant_type", grant_type)?;
    }
    if let Some(unknown) = rejection.unknown_scopes() {
        options = options.property("unknown_scopes", unknown.to_string())?;
    }
    if let Some(ungranted) = rejection.ungranted_known_scopes() {
        options = options.property("ungranted_known_scopes", ungranted.to_string())?;
    }
    Ok(options)
}
