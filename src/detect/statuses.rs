//! Which response statuses count as redirects that may carry a rejection.

use std::fmt;

use http::StatusCode;

/// A set of 3xx statuses, one bit each, so a look-up is a shift and a mask.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct RedirectStatuses {
    /// Bit `n` stands for status `300 + n`.
    bits: u128,
}

impl RedirectStatuses {
    /// Every status from 300 to 399.
    pub(crate) const ANY: Self = Self {
        bits: (1u128 << 100) - 1,
    };

    /// Exactly the given statuses.
    ///
    /// # Panics
    ///
    /// When a status is not a redirect (outside 300..=399): a `Location` on
    /// any other status does not send the browser back to the client.
    pub(crate) fn only(statuses: impl IntoIterator<Item = StatusCode>) -> Self {
        let mut bits = 0;
        for status in statuses {
            assert!(
                status.is_redirection(),
                "redirect_statuses takes 3xx statuses only, got {status}"
            );
            bits |= 1u128 << (status.as_u16() - 300);
        }
        assert!(bits != 0, "redirect_statuses needs at least one status");
        Self { bits }
    }

    #[inline]
    pub(crate) fn contains(self, status: StatusCode) -> bool {
        status.is_redirection() && self.bits & (1u128 << (status.as_u16() - 300)) != 0
    }
}

/// `every 3xx`, or the statuses: `[302, 303]`.
impl fmt::Debug for RedirectStatuses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Self::ANY {
            return f.write_str("every 3xx");
        }
        let statuses = (0..100u16)
            .filter(|bit| self.bits & (1u128 << bit) != 0)
            .map(|bit| 300 + bit);
        f.debug_list().entries(statuses).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_is_every_3xx_and_nothing_else() {
        for code in 100..=599 {
            let status = StatusCode::from_u16(code).unwrap();
            assert_eq!(
                RedirectStatuses::ANY.contains(status),
                (300..400).contains(&code)
            );
        }
    }

    #[test]
    fn only_is_exactly_those() {
        let statuses = RedirectStatuses::only([StatusCode::FOUND, StatusCode::SEE_OTHER]);
        assert!(statuses.contains(StatusCode::FOUND));
        assert!(statuses.contains(StatusCode::SEE_OTHER));
        assert!(!statuses.contains(StatusCode::TEMPORARY_REDIRECT));
        assert!(!statuses.contains(StatusCode::OK));
    }

    #[test]
    #[should_panic(expected = "at least one status")]
    fn an_empty_set_is_refused() {
        RedirectStatuses::only([]);
    }

    #[test]
    #[should_panic(expected = "3xx statuses only")]
    fn a_non_redirect_status_is_refused() {
        RedirectStatuses::only([StatusCode::BAD_REQUEST]);
    }
}
