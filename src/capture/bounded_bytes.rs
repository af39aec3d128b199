//! [`BoundedBytes`]: a copy of the first bytes of a body, never more than a
//! limit.

use std::fmt;
use std::io::IoSlice;

use bytes::Buf;

/// How many contiguous pieces of one frame are copied; a frame in more
/// pieces than this counts as past the limit (hyper and axum frames are one
/// piece).
const MAX_PIECES_PER_FRAME: usize = 16;

/// The first `limit` bytes of a body, as its frames went by. Its capacity
/// never exceeds `limit` either. Its `Debug` shows sizes only: the bytes may
/// hold secrets (a client secret in a form, a token in an answer).
pub(crate) struct BoundedBytes {
    bytes: Vec<u8>,
    limit: usize,
    overflowed: bool,
}

impl BoundedBytes {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            bytes: Vec::new(),
            limit,
            overflowed: false,
        }
    }

    /// Copies a frame's bytes without consuming them. Past the limit
    /// nothing more is kept, so what is kept is always a prefix.
    pub(crate) fn record(&mut self, data: &impl Buf) {
        if self.overflowed {
            return;
        }
        let mut pieces = [IoSlice::new(&[]); MAX_PIECES_PER_FRAME];
        let count = data.chunks_vectored(&mut pieces);
        let mut seen = 0;
        for piece in &pieces[..count] {
            let room = self.limit - self.bytes.len();
            if piece.len() > room {
                self.append(&piece[..room]);
                self.overflowed = true;
                return;
            }
            self.append(piece);
            seen += piece.len();
        }
        if seen < data.remaining() {
            self.overflowed = true;
        }
    }

    /// Appends within the limit, growing by doubling (for many small
    /// frames) but never past the limit (`Vec`'s own growth could reach
    /// nearly twice it).
    fn append(&mut self, bytes: &[u8]) {
        let needed = self.bytes.len() + bytes.len();
        if needed > self.bytes.capacity() {
            let grown = needed.max(self.bytes.capacity() * 2).min(self.limit);
            self.bytes.reserve_exact(grown - self.bytes.len());
        }
        self.bytes.extend_from_slice(bytes);
    }

    /// The bytes kept so far.
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.bytes
    }

    /// Whether the body had more bytes than were kept.
    pub(crate) fn overflowed(&self) -> bool {
        self.overflowed
    }
}

impl fmt::Debug for BoundedBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedBytes")
            .field("kept", &self.bytes.len())
            .field("limit", &self.limit)
            .field("overflowed", &self.overflowed)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[test]
    fn keeps_a_prefix_of_at_most_limit_bytes() {
        let mut kept = BoundedBytes::new(5);
        kept.record(&Bytes::from_static(b"abc"));
        assert!(!kept.overflowed());
        kept.record(&Bytes::from_static(b"defg"));
        kept.record(&Bytes::from_static(b"hij"));
        assert_eq!(kept.as_slice(), b"abcde");
        assert!(kept.overflowed());
    }

    #[test]
    fn exactly_the_limit_is_no_overflow() {
        let mut kept = BoundedBytes::new(3);
        kept.record(&Bytes::from_static(b"abc"));
        kept.record(&Bytes::new());
        assert_eq!(kept.as_slice(), b"abc");
        assert!(!kept.overflowed());
    }

    #[test]
    fn a_frame_in_more_pieces_than_copied_counts_as_overflow() {
        let mut frame: Box<dyn Buf> = Box::new(Bytes::from_static(b"a"));
        for _ in 0..MAX_PIECES_PER_FRAME {
            frame = Box::new(frame.chain(Bytes::from_static(b"b")));
        }
        let mut kept = BoundedBytes::new(1024);
        kept.record(&frame);
        assert!(kept.overflowed());
        assert_eq!(kept.as_slice().len(), MAX_PIECES_PER_FRAME);
    }

    #[test]
    fn capacity_stays_within_the_limit() {
        let mut kept = BoundedBytes::new(1000);
        kept.record(&Bytes::from(vec![b'a'; 999]));
        kept.record(&Bytes::from_static(b"bc"));
        assert_eq!(kept.as_slice().len(), 1000);
        assert!(kept.bytes.capacity() <= 1000, "{}", kept.bytes.capacity());
        let mut many = BoundedBytes::new(4096);
        for _ in 0..5000 {
            many.record(&Bytes::from_static(b"x"));
        }
        assert!(many.bytes.capacity() <= 4096);
        assert!(!format!("{many:?}").contains("xx"), "Debug shows no bytes");
    }

    #[test]
    fn a_zero_limit_keeps_nothing() {
        let mut kept = BoundedBytes::new(0);
        kept.record(&Bytes::from_static(b"x"));
        assert!(kept.as_slice().is_empty());
        assert!(kept.overflowed());
    }
}
