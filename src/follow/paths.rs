//! [`AuthorizePaths`]: the paths of the server's authorization endpoints,
//! the only ones whose answers keep an authorization.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

/// The paths of the authorization server's authorization endpoints
/// (`authorization_endpoint` and `device_authorization_endpoint` of its
/// discovery document): only a request to one of them keeps an
/// authorization to follow. Until paths are given, any path may (a junk
/// authorize-shaped request answered `2xx` or `3xx` anywhere then keeps
/// one). Cloning shares them: another task may
/// [`replace`](Self::replace) them at any time, as the proxy's discovery
/// does.
///
/// ```
/// use invalid_scope_observer::{AuthorizePaths, FollowAuthorizations};
///
/// let paths = AuthorizePaths::any();
/// let follow = FollowAuthorizations::in_memory().authorize_paths_from(paths.clone());
/// assert!(paths.allows("/not-an-endpoint"));
/// // Later, from discovery:
/// paths.replace(["/o/authorize/", "/o/device-authorization/"]);
/// assert!(paths.allows("/o/authorize/"));
/// assert!(!paths.allows("/not-an-endpoint"));
/// # drop(follow);
/// ```
#[derive(Clone, Default)]
pub struct AuthorizePaths(Arc<RwLock<Option<Arc<[String]>>>>);

impl AuthorizePaths {
    /// Any path, until [`replace`](Self::replace) names some.
    ///
    /// ```
    /// # use invalid_scope_observer::AuthorizePaths;
    /// assert!(AuthorizePaths::any().allows("/anything"));
    /// ```
    pub fn any() -> Self {
        Self::default()
    }

    /// Exactly these paths (compared with the request's path as sent, no
    /// query).
    ///
    /// ```
    /// # use invalid_scope_observer::AuthorizePaths;
    /// let paths = AuthorizePaths::new(["/authorize"]);
    /// assert!(paths.allows("/authorize") && !paths.allows("/authorize/"));
    /// ```
    pub fn new(paths: impl IntoIterator<Item = impl Into<String>>) -> Self {
        let this = Self::any();
        this.replace(paths);
        this
    }

    /// Puts `paths` in force for every clone.
    ///
    /// ```
    /// # use invalid_scope_observer::AuthorizePaths;
    /// let paths = AuthorizePaths::any();
    /// paths.replace(["/auth"]);
    /// assert!(!paths.allows("/token"));
    /// ```
    pub fn replace(&self, paths: impl IntoIterator<Item = impl Into<String>>) {
        let paths: Arc<[String]> = paths.into_iter().map(Into::into).collect();
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Some(paths);
    }

    /// Whether a request to `path` may keep an authorization.
    ///
    /// ```
    /// # use invalid_scope_observer::AuthorizePaths;
    /// assert!(AuthorizePaths::new(["/auth"]).allows("/auth"));
    /// ```
    pub fn allows(&self, path: &str) -> bool {
        match &*self.0.read().unwrap_or_else(PoisonError::into_inner) {
            Some(paths) => paths.iter().any(|allowed| allowed == path),
            None => true,
        }
    }
}

impl fmt::Debug for AuthorizePaths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0.read().unwrap_or_else(PoisonError::into_inner) {
            Some(paths) => f.debug_tuple("AuthorizePaths").field(paths).finish(),
            None => f.write_str("AuthorizePaths(any)"),
        }
    }
}
