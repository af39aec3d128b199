//! What a hostile client may hold: how long a connection may sit without a
//! request in flight ([`Activity`]), and how slowly and how much of a
//! request body it may send ([`LimitedBody`]); and how long an upstream may
//! stall mid-answer ([`StallLimited`]).

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

/// The `[limits]` in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limits {
    /// A whole request head, and a connection with no request in flight.
    pub(crate) header_timeout: Duration,
    /// Without a byte of a request body.
    pub(crate) body_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) max_header_bytes: usize,
    pub(crate) max_headers: usize,
    /// `None`: no cap.
    pub(crate) max_body_bytes: Option<u64>,
}

/// Why a request body stopped: the proxy's own reasons, found again in the
/// upstream client's error to answer `408` or `413`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyLimit {
    /// No byte for `body_timeout`.
    Stalled,
    /// More than `max_body_bytes`.
    TooLarge,
}

impl fmt::Display for BodyLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Stalled => "the request body stalled past body_timeout",
            Self::TooLarge => "the request body is larger than max_body_bytes",
        })
    }
}

impl Error for BodyLimit {}

impl BodyLimit {
    /// The limit behind `error`, if one of ours is in its chain of causes.
    pub(crate) fn in_chain(error: &(dyn Error + 'static)) -> Option<Self> {
        let mut cause = Some(error);
        while let Some(error) = cause {
            if let Some(limit) = error.downcast_ref::<Self>() {
                return Some(*limit);
            }
            cause = error.source();
        }
        None
    }
}

/// When a request's body was all read: the upstream's `upstream_timeout`
/// counts from then, as an upload that streams steadily is governed by
/// `body_timeout` alone. Shared by the body and the forwarder (a request
/// extension).
#[derive(Clone, Debug, Default)]
pub(crate) struct BodyProgress(Arc<OnceLock<Instant>>);

impl BodyProgress {
    /// When the body ended; `None` while it is still being read.
    pub(crate) fn ended(&self) -> Option<Instant> {
        self.0.get().copied()
    }

    fn end(&self) {
        let _ = self.0.set(Instant::now());
    }
}

pin_project! {
    /// A request body that fails with [`BodyLimit::Stalled`] when no frame
    /// comes for `timeout`, and with [`BodyLimit::TooLarge`] past `max`
    /// bytes (the frame that crosses the cap is not passed on). The timer
    /// is made only once the body makes the reader wait: a body that is
    /// there at once (most are) costs no timer.
    pub(crate) struct LimitedBody<B> {
        #[pin]
        inner: B,
        stall: Stall,
        left: Option<u64>,
        progress: BodyProgress,
    }
}

impl<B: Body> LimitedBody<B> {
    /// `inner` limited, and `progress` told when it ends.
    pub(crate) fn new(inner: B, limits: &Limits, progress: BodyProgress) -> Self {
        if inner.is_end_stream() {
            progress.end();
        }
        Self {
            inner,
            stall: Stall::new(limits.body_timeout),
            left: limits.max_body_bytes,
            progress,
        }
    }
}

/// A timer for "nothing for `timeout`", armed when a body first makes its
/// reader wait and pushed back by each frame after that.
struct Stall {
    timeout: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Stall {
    fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            sleep: None,
        }
    }

    /// A frame came: the timer, if armed, starts again.
    fn frame(&mut self) {
        if let Some(sleep) = &mut self.sleep {
            sleep.as_mut().reset(Instant::now() + self.timeout);
        }
    }

    /// Nothing came: ready once nothing came for `timeout`.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let timeout = self.timeout;
        self.sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)))
            .as_mut()
            .poll(cx)
    }
}

impl<B> Body for LimitedBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<tower::BoxError>,
{
    type Data = Bytes;
    type Error = tower::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let mut this = self.project();
        match this.inner.as_mut().poll_frame(cx) {
            Poll::Pending => {
                ready!(this.stall.poll(cx));
                Poll::Ready(Some(Err(BodyLimit::Stalled.into())))
            }
            Poll::Ready(Some(Ok(frame))) => {
                this.stall.frame();
                if let (Some(left), Some(data)) = (this.left.as_mut(), frame.data_ref()) {
                    match left.checked_sub(data.len() as u64) {
                        Some(rest) => *left = rest,
                        None => return Poll::Ready(Some(Err(BodyLimit::TooLarge.into()))),
                    }
                }
                // A reader that trusts the end hint polls no further.
                if this.inner.is_end_stream() {
                    this.progress.end();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(error.into()))),
            Poll::Ready(None) => {
                this.progress.end();
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

pin_project! {
    /// An upstream answer's body that ends with an error when the upstream
    /// sends nothing for `timeout` mid-answer: the client's connection is
    /// then cut rather than held.
    pub(crate) struct StallLimited<B> {
        #[pin]
        inner: B,
        stall: Stall,
    }
}

impl<B> StallLimited<B> {
    pub(crate) fn new(inner: B, timeout: Duration) -> Self {
        Self {
            inner,
            stall: Stall::new(timeout),
        }
    }
}

/// The upstream stopped mid-answer for longer than `upstream_timeout`.
#[derive(Debug)]
pub(crate) struct UpstreamStalled;

impl fmt::Display for UpstreamStalled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the upstream stalled mid-answer past upstream_timeout")
    }
}

impl Error for UpstreamStalled {}

impl<B> Body for StallLimited<B>
where
    B: Body,
    B::Error: Into<tower::BoxError>,
{
    type Data = B::Data;
    type Error = tower::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, Self::Error>>> {
        let this = self.project();
        match this.inner.poll_frame(cx) {
            Poll::Pending => {
                ready!(this.stall.poll(cx));
                tracing::warn!(
                    timeout_seconds = this.stall.timeout.as_secs_f64(),
                    "invalid_scope_proxy.upstream_stalled"
                );
                metrics::counter!("invalid_scope_proxy_upstream_errors_total", "kind" => "stalled")
                    .increment(1);
                Poll::Ready(Some(Err(UpstreamStalled.into())))
            }
            Poll::Ready(frame) => {
                this.stall.frame();
                Poll::Ready(frame.map(|frame| frame.map_err(Into::into)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// One connection's requests in flight, since when it has had none, and
/// when a response of it last moved. The server loop closes a connection
/// idle for `header_timeout`, whatever its protocol and however far it got
/// with a request head (a silent connection, a trickled head, a kept-alive
/// or an HTTP/2 connection with no stream are all idle), and one whose
/// responses being sent have not moved for `body_timeout` (a client that
/// reads nothing, or an HTTP/2 client that opens no flow-control window:
/// hyper then stops taking frames, and each such response would hold its
/// upstream connection forever).
#[derive(Debug)]
pub(crate) struct Activity {
    in_flight: AtomicUsize,
    idle_since: Mutex<Instant>,
    /// Responses whose bodies are being sent.
    sending: AtomicUsize,
    /// Frames those responses gave away, and responses begun: a count the
    /// server loop compares between two looks (cheaper per frame than a
    /// clock).
    moves: AtomicU64,
}

/// What the server loop saw of a connection's answers at its last look.
#[derive(Debug)]
pub(crate) struct Looked {
    moves: u64,
    since: Instant,
}

impl Activity {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            in_flight: AtomicUsize::new(0),
            idle_since: Mutex::new(Instant::now()),
            sending: AtomicUsize::new(0),
            moves: AtomicU64::new(0),
        })
    }

    /// A request starts; it is in flight until the guard (carried by its
    /// answer's body) drops.
    pub(crate) fn start(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight {
            activity: Arc::clone(self),
            sending: false,
        }
    }

    /// When the connection may be closed for idling: `header_timeout` after
    /// it last had a request in flight; `None` while one is.
    pub(crate) fn idle_deadline(&self, timeout: Duration) -> Option<Instant> {
        (self.in_flight.load(Ordering::Relaxed) == 0).then(|| *lock(&self.idle_since) + timeout)
    }

    /// A first look, for [`stalled`](Self::stalled) to compare with.
    pub(crate) fn look(&self) -> Looked {
        Looked {
            moves: self.moves.load(Ordering::Relaxed),
            since: Instant::now(),
        }
    }

    /// Whether answers are being sent and none has moved since `looked`
    /// for `timeout` (a client that reads nothing); updates `looked`.
    pub(crate) fn stalled(&self, looked: &mut Looked, timeout: Duration) -> bool {
        let moves = self.moves.load(Ordering::Relaxed);
        if moves != looked.moves || self.sending.load(Ordering::Relaxed) == 0 {
            *looked = Looked {
                moves,
                since: Instant::now(),
            };
            return false;
        }
        looked.since.elapsed() >= timeout
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A request in flight on its connection.
#[derive(Debug)]
pub(crate) struct InFlight {
    activity: Arc<Activity>,
    /// Whether its response is being sent (counted in `sending`).
    sending: bool,
}

impl InFlight {
    /// Its response begins to be sent.
    fn sending(&mut self) {
        if !std::mem::replace(&mut self.sending, true) {
            self.activity.sending.fetch_add(1, Ordering::Relaxed);
            self.moved();
        }
    }

    /// Its response gave a frame away.
    fn moved(&self) {
        self.activity.moves.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        *lock(&self.activity.idle_since) = Instant::now();
        if self.sending {
            self.activity.sending.fetch_sub(1, Ordering::Relaxed);
        }
        self.activity.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

pin_project! {
    /// An answer's body that keeps its request in flight until it is sent
    /// or dropped, and tells the connection each time a frame goes.
    pub(crate) struct Guarded<B> {
        #[pin]
        inner: B,
        guard: InFlight,
    }
}

impl<B> Guarded<B> {
    pub(crate) fn new(inner: B, mut guard: InFlight) -> Self {
        guard.sending();
        Self { inner, guard }
    }
}

impl<B: Body> Body for Guarded<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let frame = this.inner.poll_frame(cx);
        if frame.is_ready() {
            this.guard.moved();
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full};

    fn limits(max_body_bytes: Option<u64>) -> Limits {
        Limits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_millis(50),
            max_connections: 10,
            max_header_bytes: 65536,
            max_headers: 100,
            max_body_bytes,
        }
    }

    #[tokio::test]
    async fn a_body_over_the_cap_fails_and_one_within_passes() {
        let body = LimitedBody::new(
            Full::new(Bytes::from_static(b"12345")),
            &limits(Some(4)),
            BodyProgress::default(),
        );
        let error = body.collect().await.unwrap_err();
        assert_eq!(BodyLimit::in_chain(&*error), Some(BodyLimit::TooLarge));
        let body = LimitedBody::new(
            Full::new(Bytes::from_static(b"1234")),
            &limits(Some(4)),
            BodyProgress::default(),
        );
        assert_eq!(body.collect().await.unwrap().to_bytes(), "1234");
    }

    #[tokio::test]
    async fn a_stalled_body_fails_after_the_timeout() {
        let body = LimitedBody::new(Stalls(false), &limits(None), BodyProgress::default());
        let started = Instant::now();
        let error = body.collect().await.unwrap_err();
        assert_eq!(BodyLimit::in_chain(&*error), Some(BodyLimit::Stalled));
        assert!(started.elapsed() >= Duration::from_millis(50));
    }

    #[tokio::test]
    async fn progress_says_when_the_body_ended() {
        let progress = BodyProgress::default();
        let body = LimitedBody::new(
            Full::new(Bytes::from_static(b"abc")),
            &limits(None),
            progress.clone(),
        );
        assert_eq!(progress.ended(), None, "not read yet");
        body.collect().await.unwrap();
        assert!(progress.ended().is_some());
        let empty = BodyProgress::default();
        let _body = LimitedBody::new(Full::new(Bytes::new()), &limits(None), empty.clone());
        assert!(empty.ended().is_some(), "an empty body has ended at once");
    }

    #[test]
    fn idle_only_without_a_request_in_flight_and_stalled_only_while_sending() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async {
            let activity = Activity::new();
            let timeout = Duration::from_millis(20);
            assert!(activity.idle_deadline(timeout).is_some());
            let mut looked = activity.look();
            let guard = activity.start();
            assert!(activity.idle_deadline(timeout).is_none());
            tokio::time::sleep(timeout).await;
            assert!(!activity.stalled(&mut looked, timeout), "nothing sent yet");
            // Its answer begins, then takes no frame.
            let body = Guarded::new(Full::new(Bytes::from_static(b"ok")), guard);
            assert!(!activity.stalled(&mut looked, timeout), "it just began");
            tokio::time::sleep(timeout).await;
            assert!(activity.stalled(&mut looked, timeout));
            drop(body);
            assert!(!activity.stalled(&mut looked, timeout), "sent");
            assert!(activity.idle_deadline(timeout).unwrap() > Instant::now());
        });
    }

    /// Two bytes, then nothing ever again.
    struct Stalls(bool);

    impl Body for Stalls {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
            if std::mem::replace(&mut self.0, true) {
                Poll::Pending
            } else {
                Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"ab")))))
            }
        }
    }
}
