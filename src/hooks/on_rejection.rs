//! [`OnRejection`]: the hook called once per rejection, after the event.

use std::sync::Arc;

use crate::report::InvalidScopeRejection;

/// Called once for every rejection the layer reports, right after the
/// `tracing` event, on the task that polled the response. Use it to hand the
/// rejection to an error tracker or a metrics counter.
///
/// Implemented for `()` (does nothing, the default), for any
/// `Fn(&InvalidScopeRejection)`, for an `Arc` or an `Option` of a hook, and for a
/// pair of hooks, which are called in order (so `(tracker, (audit, alert))`
/// calls three). A hook need not be `Clone`: every service of a layer shares
/// it through one `Arc`. For axum and hyper it must be
/// `Send + Sync + 'static`.
///
/// The hook runs on the request path: keep it quick, and move slow work
/// (network calls) onto a queue or a spawned task. A hook that panics does
/// not fail the request: the panic is caught, reported once per process at
/// ERROR, and later rejections still reach the hook.
///
/// # Example
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use invalid_scope_observer::{InvalidScopeObserverLayer, InvalidScopeRejection, ScopeSet};
///
/// let rejections = Arc::new(AtomicUsize::new(0));
/// let counter = Arc::clone(&rejections);
/// let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("openid"))
///     .on_rejection(move |rejection: &InvalidScopeRejection| {
///         counter.fetch_add(1, Ordering::Relaxed);
///         eprintln!("{rejection}: missing {:?}", rejection.missing_scopes());
///     });
/// # drop(layer);
/// ```
///
/// Write the closure's argument type out. Without it the compiler fails at
/// the `.on_rejection(…)` call with "implementation of `Fn` is not general
/// enough" (a closure cannot infer that it takes a reference of any
/// lifetime); with it, the closure is a hook:
///
/// ```compile_fail
/// use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
///
/// let layer = InvalidScopeObserverLayer::new(ScopeSet::new())
///     .on_rejection(|rejection| eprintln!("{rejection}")); // error: write `&InvalidScopeRejection`
/// ```
///
/// Anything else that is not a hook gets a message listing what is:
///
/// ```compile_fail
/// use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
///
/// let layer = InvalidScopeObserverLayer::new(ScopeSet::new())
///     .on_rejection("log it"); // error: `&str` is not a rejection hook
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a rejection hook",
    label = "not an `OnRejection`",
    note = "give `()`, a closure with its argument's type written out (`|rejection: &InvalidScopeRejection| {{ ... }}`), an `Arc` of a hook, a pair of hooks, or a type that implements `OnRejection`"
)]
pub trait OnRejection {
    /// Handles one rejection.
    fn on_rejection(&self, rejection: &InvalidScopeRejection);

    /// Whether this hook does nothing at all, so that a rejection nobody
    /// logs and no hook or metric needs is not worked out. `false` unless
    /// you implement a no-op yourself; `()` answers `true`, and a pair when
    /// both halves do.
    ///
    /// ```
    /// use invalid_scope_observer::{InvalidScopeRejection, OnRejection};
    ///
    /// assert!(().is_noop());
    /// assert!(((), ()).is_noop());
    /// assert!(!(|_: &InvalidScopeRejection| {}).is_noop());
    /// ```
    fn is_noop(&self) -> bool {
        false
    }
}

impl OnRejection for () {
    #[inline]
    fn on_rejection(&self, _rejection: &InvalidScopeRejection) {}

    fn is_noop(&self) -> bool {
        true
    }
}

impl<F> OnRejection for F
where
    F: Fn(&InvalidScopeRejection),
{
    fn on_rejection(&self, rejection: &InvalidScopeRejection) {
        self(rejection)
    }
}

/// Keeps a handle on a hook the layer also calls (to read what it
/// counted, say).
impl<T: OnRejection + ?Sized> OnRejection for Arc<T> {
    fn on_rejection(&self, rejection: &InvalidScopeRejection) {
        (**self).on_rejection(rejection)
    }

    fn is_noop(&self) -> bool {
        (**self).is_noop()
    }
}

/// A hook that may be there: `None` does nothing (and is no listener), as
/// for a hook chosen by configuration.
///
/// ```
/// use invalid_scope_observer::{InvalidScopeRejection, OnRejection};
///
/// fn report(_: &InvalidScopeRejection) {}
/// let configured: Option<fn(&InvalidScopeRejection)> = None;
/// assert!(configured.is_noop());
/// assert!(!Some(report as fn(&InvalidScopeRejection)).is_noop());
/// ```
impl<T: OnRejection> OnRejection for Option<T> {
    fn on_rejection(&self, rejection: &InvalidScopeRejection) {
        if let Some(hook) = self {
            hook.on_rejection(rejection);
        }
    }

    fn is_noop(&self) -> bool {
        self.as_ref().is_none_or(OnRejection::is_noop)
    }
}

impl<First: OnRejection, Second: OnRejection> OnRejection for (First, Second) {
    fn on_rejection(&self, rejection: &InvalidScopeRejection) {
        self.0.on_rejection(rejection);
        self.1.on_rejection(rejection);
    }

    fn is_noop(&self) -> bool {
        self.0.is_noop() && self.1.is_noop()
    }
}
