//! Reading bodies: form requests, and JSON answers of the token and PAR
//! endpoints.
//!
//! By default the layer reads only the request's query and headers and the
//! response's status and headers, so the body types pass through unchanged
//! ([`HeadersOnly`]). After
//! [`.observe_bodies()`](crate::InvalidScopeObserverLayer::observe_bodies)
//! ([`WithBodies`]) it also:
//!
//! - keeps the first bytes (8 KiB by default) of every
//!   `application/x-www-form-urlencoded` request body (but those of GET and
//!   HEAD, which have no meaning) as the inner service reads it
//!   ([`RequestBody`]), so a POSTed authorization or consent form,
//!   a token request or a pushed authorization request gives its `scope`,
//!   `client_id` and `grant_type` (and HTTP Basic credentials their
//!   `client_id`);
//! - watches the body of each `400` or `401` `application/json` answer, and
//!   of each `2xx` JSON answer to a form request, as it streams to the client
//!   ([`ResponseBody`]; not when it has a `Content-Encoding`, so put the
//!   layer inside a compression layer): `{"error":"invalid_scope"}` is reported as
//!   `oauth.token.invalid_scope`, and a grant whose `scope` lacks requested
//!   scopes as `oauth.scope_narrowed`.
//!
//! Neither wrapper reads ahead of its consumer, delays a frame or changes a
//! byte; each keeps at most the configured number of bytes. Every other body
//! passes through uncopied.

#[cfg(feature = "bodies")]
mod request_body;
#[cfg(feature = "bodies")]
mod response_body;

#[cfg(feature = "bodies")]
#[cfg_attr(docsrs, doc(cfg(feature = "bodies")))]
pub use self::request_body::RequestBody;
#[cfg(feature = "bodies")]
#[cfg_attr(docsrs, doc(cfg(feature = "bodies")))]
pub use self::response_body::ResponseBody;

#[cfg(feature = "bodies")]
pub(crate) use self::response_body::{AnswerWatch, Watched};

/// What the layer reads by default: the request's query and headers, the
/// response's status and headers. Bodies and their types pass through
/// unchanged.
///
/// ```
/// use invalid_scope_observer::body::HeadersOnly;
/// use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
///
/// let layer: InvalidScopeObserverLayer<ScopeSet, (), HeadersOnly> =
///     InvalidScopeObserverLayer::new(ScopeSet::new());
/// # drop(layer);
/// ```
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct HeadersOnly;

/// What the layer reads after
/// [`.observe_bodies()`](crate::InvalidScopeObserverLayer::observe_bodies):
/// also form request bodies and JSON answers (see the [module](self)).
///
/// ```
/// use invalid_scope_observer::body::WithBodies;
/// use invalid_scope_observer::{InvalidScopeObserverLayer, ScopeSet};
///
/// let layer: InvalidScopeObserverLayer<ScopeSet, (), WithBodies> =
///     InvalidScopeObserverLayer::new(ScopeSet::new()).observe_bodies();
/// # drop(layer);
/// ```
#[cfg(feature = "bodies")]
#[cfg_attr(docsrs, doc(cfg(feature = "bodies")))]
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct WithBodies;
