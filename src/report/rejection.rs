//! [`InvalidScopeRejection`]: what the layer knows about one rejection.

use std::error::Error;
use std::fmt;

use http::StatusCode;

use super::{AUTHORIZE_EVENT, TOKEN_EVENT};
use crate::scope::ScopeSet;

/// One `invalid_scope` rejection, as the hook sees it.
///
/// It implements [`std::error::Error`] so it can go straight to an error
/// tracker; its text is always `OAuth invalid_scope rejection`, so trackers
/// group every rejection into one issue, with the details in the accessors.
///
/// Scope sets are as the peer sent them; `client_id` and `user_agent` are cut
/// to the layer's limits. None of it is escaped: escape values yourself
/// before writing them anywhere a newline matters.
///
/// # Example
///
/// ```
/// use invalid_scope_observer::InvalidScopeRejection;
///
/// fn report(rejection: &InvalidScopeRejection) {
///     assert_eq!(rejection.to_string(), "OAuth invalid_scope rejection");
///     let properties = [
///         ("missing_scopes", rejection.missing_scopes().to_string()),
///         ("client_id", rejection.client_id().to_string()),
///     ];
///     # let _ = properties;
/// }
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct InvalidScopeRejection {
    pub(crate) requested_scopes: ScopeSet,
    pub(crate) grantable_scopes: ScopeSet,
    pub(crate) missing_scopes: ScopeSet,
    pub(crate) unknown_scopes: Option<ScopeSet>,
    pub(crate) ungranted_known_scopes: Option<ScopeSet>,
    pub(crate) kind: RejectionKind,
    pub(crate) client_id: String,
    pub(crate) grant_type: Option<String>,
    pub(crate) user_agent: String,
    pub(crate) status: StatusCode,
    pub(crate) suppressed_before: u64,
    /// The server's own reason, cut to 200 characters; `""` when absent.
    pub(crate) error_description: String,
    /// Whether the layer's lists name no missing scope.
    pub(crate) unexplained: bool,
    /// Whether the request repeated a parameter or named two clients.
    pub(crate) ambiguous: bool,
    /// Whether `client_id`, `user_agent` or `error_description` were cut
    /// to their limits.
    pub(crate) text_cut: bool,
}

impl InvalidScopeRejection {
    /// The scopes the request asked for, in request order.
    ///
    /// ```
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, InvalidScopeRejection, ScopeSet};
    /// let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("openid"))
    ///     .on_rejection(|rejection: &InvalidScopeRejection| {
    ///         println!("asked for {}", rejection.requested_scopes());
    ///     });
    /// # drop(layer);
    /// ```
    pub fn requested_scopes(&self) -> &ScopeSet {
        &self.requested_scopes
    }

    /// The scopes the client may be granted.
    ///
    /// ```
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, InvalidScopeRejection, ScopeSet};
    /// let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("openid"))
    ///     .on_rejection(|rejection: &InvalidScopeRejection| {
    ///         println!("may have {}", rejection.grantable_scopes());
    ///     });
    /// # drop(layer);
    /// ```
    pub fn grantable_scopes(&self) -> &ScopeSet {
        &self.grantable_scopes
    }

    /// Requested minus grantable, in request order.
    ///
    /// ```
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, InvalidScopeRejection, ScopeSet};
    /// let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("openid"))
    ///     .on_rejection(|rejection: &InvalidScopeRejection| {
    ///         assert!(rejection.missing_scopes().is_subset(rejection.requested_scopes()));
    ///     });
    /// # drop(layer);
    /// ```
    pub fn missing_scopes(&self) -> &ScopeSet {
        &self.missing_scopes
    }

    /// Requested scopes the server does not know at all (a client bug, a
    /// typo, or a probe); `None` unless the layer was given
    /// [`known_scopes`](crate::InvalidScopeObserverLayer::known_scopes).
    ///
    /// ```
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, InvalidScopeRejection, ScopeSet};
    /// let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("openid"))
    ///     .on_rejection(|rejection: &InvalidScopeRejection| {
    ///         if let Some(unknown) = rejection.unknown_scopes() {
    ///             println!("nobody knows {unknown}");
    ///         }
    ///     });
    /// # drop(layer);
    /// ```
    pub fn unknown_scopes(&self) -> Option<&ScopeSet> {
        self.unknown_scopes.as_ref()
    }

    /// Missing scopes the server does know: this client may just not have
    /// them (drift between scope lists, or a misconfigured client); `None`
    /// unless the layer was given
    /// [`known_scopes`](crate::InvalidScopeObserverLayer::known_scopes).
    ///
    /// ```
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, InvalidScopeRejection, ScopeSet};
    /// let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("openid"))
    ///     .on_rejection(|rejection: &InvalidScopeRejection| {
    ///         if let Some(drift) = rejection.ungranted_known_scopes() {
    ///             println!("fix the lists: {drift}");
    ///         }
    ///     });
    /// # drop(layer);
    /// ```
    pub fn ungranted_known_scopes(&self) -> Option<&ScopeSet> {
        self.ungranted_known_scopes.as_ref()
    }

    /// How many rejections the rate limit kept from the event stream (and,
    /// unless the hook sees every rejection, from the hook) since the last
    /// one reported; 0 for rejections that were themselves suppressed.
    ///
    /// ```
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, InvalidScopeRejection, ScopeSet};
    /// let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("openid"))
    ///     .on_rejection(|rejection: &InvalidScopeRejection| {
    ///         let rejections = 1 + rejection.suppressed_before();
    ///         println!("{rejections} rejections since the last report");
    ///     });
    /// # drop(layer);
    /// ```
    pub fn suppressed_before(&self) -> u64 {
        self.suppressed_before
    }

    /// The request's decoded `client_id` (cut to the layer's limit, 128
    /// characters by default), `""` when it had none.
    ///
    /// ```
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, InvalidScopeRejection, ScopeSet};
    /// let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("openid"))
    ///     .on_rejection(|rejection: &InvalidScopeRejection| {
    ///         println!("client {:?}", rejection.client_id()); // escaped by {:?}
    ///     });
    /// # drop(layer);
    /// ```
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The request's decoded `grant_type` (cut to 64 characters), when the
    /// request named one: a token request does, an authorization request
    /// does not (PAR requests usually do not either).
    ///
    /// ```
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, InvalidScopeRejection, ScopeSet};
    /// let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("openid"))
    ///     .on_rejection(|rejection: &InvalidScopeRejection| {
    ///         if let Some(grant_type) = rejection.grant_type() {
    ///             println!("token request, grant {grant_type:?}");
    ///         }
    ///     });
    /// # drop(layer);
    /// ```
    pub fn grant_type(&self) -> Option<&str> {
        self.grant_type.as_deref()
    }

    /// Which request was rejected: an authorization request (or its
    /// consent step), or a request to the token, PAR, device or any other
    /// endpoint (see [`RejectionKind`]).
    ///
    /// ```
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, InvalidScopeRejection, RejectionKind, ScopeSet};
    /// let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("openid"))
    ///     .on_rejection(|rejection: &InvalidScopeRejection| match rejection.kind() {
    ///         RejectionKind::Authorize => println!("an authorization redirect"),
    ///         RejectionKind::Token => println!("a token or PAR answer"),
    ///         _ => {}
    ///     });
    /// # drop(layer);
    /// ```
    pub fn kind(&self) -> RejectionKind {
        self.kind
    }

    /// The message of this rejection's event: [`AUTHORIZE_EVENT`] for a
    /// redirect, [`TOKEN_EVENT`] for a JSON answer (see
    /// [`RejectionKind::event_name`]).
    ///
    /// [`AUTHORIZE_EVENT`]: crate::AUTHORIZE_EVENT
    /// [`TOKEN_EVENT`]: crate::TOKEN_EVENT
    ///
    /// ```
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, InvalidScopeRejection, ScopeSet};
    /// let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("openid"))
    ///     .on_rejection(|rejection: &InvalidScopeRejection| {
    ///         assert!(rejection.event_name().ends_with(".invalid_scope"));
    ///     });
    /// # drop(layer);
    /// ```
    pub fn event_name(&self) -> &'static str {
        self.kind.event_name()
    }

    /// The request's `User-Agent` (lossy UTF-8, cut to the layer's limit),
    /// `""` when it had none.
    ///
    /// ```
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, InvalidScopeRejection, ScopeSet};
    /// let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("openid"))
    ///     .on_rejection(|rejection: &InvalidScopeRejection| {
    ///         println!("from {:?}", rejection.user_agent());
    ///     });
    /// # drop(layer);
    /// ```
    pub fn user_agent(&self) -> &str {
        &self.user_agent
    }

    /// The server's own reason for the rejection: the JSON answer's
    /// `error_description` (or its error object's `message`), or the
    /// redirect's `error_description` parameter, decoded and cut to 200
    /// characters; `""` when the server gave none. The server may echo
    /// what the client sent, so escape it before writing it anywhere a
    /// newline matters (the event does).
    ///
    /// ```
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, InvalidScopeRejection, ScopeSet};
    /// let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("openid"))
    ///     .on_rejection(|rejection: &InvalidScopeRejection| {
    ///         println!("the server says {:?}", rejection.error_description());
    ///     });
    /// # drop(layer);
    /// ```
    pub fn error_description(&self) -> &str {
        &self.error_description
    }

    /// Whether the layer's lists name no missing scope for this rejection:
    /// the copy of the lists is stale, or the server rejected for another
    /// reason ([`error_description`](Self::error_description) may say
    /// which). Without grantable lists (`()`), the missing scopes are the
    /// requested ones outside the known scopes, so a rejection is
    /// unexplained when every requested scope is known (or none are known).
    ///
    /// ```
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, InvalidScopeRejection, ScopeSet};
    /// let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("openid"))
    ///     .on_rejection(|rejection: &InvalidScopeRejection| {
    ///         if rejection.unexplained() {
    ///             println!("our copy of the scope lists is stale?");
    ///         }
    ///     });
    /// # drop(layer);
    /// ```
    pub fn unexplained(&self) -> bool {
        self.unexplained
    }

    /// Whether the server may have read other values than the event's: the
    /// request repeated `scope`, `client_id` or `grant_type` (RFC 6749 §3.1
    /// forbids it; the event gives the first, oauthlib reads the last), or
    /// HTTP Basic and the body named different clients, in which case
    /// [`client_id`](Self::client_id) is `""`.
    ///
    /// ```
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, InvalidScopeRejection, ScopeSet};
    /// let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("openid"))
    ///     .on_rejection(|rejection: &InvalidScopeRejection| {
    ///         if rejection.ambiguous() {
    ///             println!("a malformed or hostile request");
    ///         }
    ///     });
    /// # drop(layer);
    /// ```
    pub fn ambiguous(&self) -> bool {
        self.ambiguous
    }

    /// The status of the response that carried the rejection (a 3xx
    /// redirect, a 4xx answer with a rejecting `Location`, a 400 or 401
    /// JSON answer, or the 2xx JSON answer that carried a rejecting
    /// redirect).
    ///
    /// ```
    /// # use invalid_scope_observer::{InvalidScopeObserverLayer, InvalidScopeRejection, ScopeSet};
    /// let layer = InvalidScopeObserverLayer::new(ScopeSet::parse("openid"))
    ///     .on_rejection(|rejection: &InvalidScopeRejection| {
    ///         assert!(rejection.status().is_redirection() || rejection.status().is_client_error());
    ///     });
    /// # drop(layer);
    /// ```
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

/// Which request a rejection answered, which decides its event's name, its
/// rate budget and its metrics counter.
///
/// The rule: a rejection is [`Authorize`](Self::Authorize) when it comes as
/// a redirect (a 3xx `Location`, a 4xx answer's `Location`, a
/// `response_mode=form_post` page, a redirect carried in a JSON answer's
/// member such as `redirect_to`), or when the request carried
/// `response_type` in its query or `allow` in its body (as a consent form
/// or a single-page consent screen posts it back), however the answer came.
/// Any other rejection (a JSON error answer of the token, PAR, device or
/// another endpoint) is [`Token`](Self::Token): a body's `response_type`
/// alone does not make an authorization request, since a pushed
/// authorization request (RFC 9126) carries one too.
///
/// ```
/// use invalid_scope_observer::RejectionKind;
///
/// assert_eq!(RejectionKind::Authorize.event_name(), "oauth.authorize.invalid_scope");
/// assert_eq!(RejectionKind::Token.event_name(), "oauth.token.invalid_scope");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectionKind {
    /// An authorization request, or its consent step, rejected (RFC 6749
    /// §4.1.2.1): as a redirect, or as a JSON answer to a request that
    /// carried `response_type` in its query or `allow` in its body.
    Authorize,
    /// Any other request rejected with a JSON error (RFC 6749 §5.2): the
    /// token or PAR endpoint, device authorization, a provisioning API;
    /// seen when the layer
    /// [observes bodies](crate::InvalidScopeObserverLayer::observe_bodies).
    Token,
}

impl RejectionKind {
    /// The message of the event a rejection of this kind emits:
    /// [`AUTHORIZE_EVENT`](crate::AUTHORIZE_EVENT) or
    /// [`TOKEN_EVENT`](crate::TOKEN_EVENT).
    ///
    /// ```
    /// use invalid_scope_observer::{RejectionKind, TOKEN_EVENT};
    /// assert_eq!(RejectionKind::Token.event_name(), TOKEN_EVENT);
    /// ```
    pub fn event_name(self) -> &'static str {
        match self {
            Self::Authorize => AUTHORIZE_EVENT,
            Self::Token => TOKEN_EVENT,
        }
    }
}

impl fmt::Display for InvalidScopeRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OAuth invalid_scope rejection")
    }
}

impl Error for InvalidScopeRejection {}
