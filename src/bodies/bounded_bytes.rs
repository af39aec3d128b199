//! [`BoundedBytes`]: a copy of the first bytes of a body, never more than a
//! limit.

use std::io::IoSlice;

use bytes::Buf;

/// How many contiguous pieces of one frame are copied; a frame in more
/// pieces than this counts as past the limit (hyper and axum frames are one
/// piece).
const MAX_PIECES_PER_FRAME: usize = 16;

/// The first `limit` bytes of a body, as its frames went by.
#[derive(Debug)]
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
                self.bytes.extend_from_slice(&piece[..room]);
                self.overflowed = true;
                return;
            }
            self.bytes.extend_from_slice(piece);
            seen += piece.len();
        }
        if seen < data.remaining() {
            self.overflowed = true;
        }
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
    fn a_zero_limit_keeps_nothing() {
        let mut kept = BoundedBytes::new(0);
        kept.record(&Bytes::from_static(b"x"));
        assert!(kept.as_slice().is_empty());
        assert!(kept.overflowed());
    }
}
