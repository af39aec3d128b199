//! [`Redacted`]: a URL as it may be logged, its userinfo (`user:password@`)
//! left out.

use std::fmt;

use http::Uri;

/// Displays `uri` with any `user:password@` of its authority written as
/// `<redacted>@`: an upstream URL with credentials in it never reaches a
/// log line whole.
pub(crate) struct Redacted<'a>(pub(crate) &'a Uri);

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let uri = self.0;
        if let Some(scheme) = uri.scheme_str() {
            write!(f, "{scheme}://")?;
        }
        if let Some(authority) = uri.authority() {
            match authority.as_str().rsplit_once('@') {
                Some((_, host)) => write!(f, "<redacted>@{host}")?,
                None => f.write_str(authority.as_str())?,
            }
        }
        match uri.path_and_query() {
            Some(path) if uri.authority().is_none() || path.as_str() != "/" => {
                f.write_str(path.as_str())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(text: &str) -> String {
        Redacted(&text.parse().unwrap()).to_string()
    }

    #[test]
    fn userinfo_never_shows() {
        assert_eq!(
            shown("https://admin:hunter2@as.example:8443/base"),
            "https://<redacted>@as.example:8443/base"
        );
        assert_eq!(
            shown("http://token@127.0.0.1:8000"),
            "http://<redacted>@127.0.0.1:8000"
        );
        assert_eq!(shown("http://127.0.0.1:8000"), "http://127.0.0.1:8000");
        assert_eq!(shown("http://127.0.0.1:8000/"), "http://127.0.0.1:8000");
    }
}
