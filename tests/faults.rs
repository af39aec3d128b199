//! Faults behave exactly as without the layer: a body that fails midway, a
//! future dropped before it completes, and `poll_ready` backpressure from
//! `ConcurrencyLimit` and `Buffer`, and a grantable source that panics. (A
//! panicking hook and an erroring inner service are in
//! `authorize_redirect.rs`.)

mod support;

use std::convert::Infallible;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::header::LOCATION;
use http::{Request, Response};
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use invalid_scope_observer::{InvalidScopeObserverLayer, InvalidScopeRejection, ScopeSet};
use support::{ours, run_captured};
use tokio::sync::oneshot;
use tower::buffer::Buffer;
use tower::limit::ConcurrencyLimit;
use tower::{service_fn, Layer, Service, ServiceExt};

/// A body that yields one chunk, then fails.
struct FailsMidway {
    sent: bool,
}

impl Body for FailsMidway {
    type Data = Bytes;
    type Error = &'static str;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.sent {
            Poll::Ready(Some(Err("connection reset")))
        } else {
            self.sent = true;
            Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"first chunk")))))
        }
    }
}

fn rejection<B>(body: B) -> Response<B> {
    Response::builder()
        .status(302)
        .header(LOCATION, "/cb?error=invalid_scope")
        .body(body)
        .unwrap()
}

fn counting_layer() -> (
    InvalidScopeObserverLayer<ScopeSet, impl Fn(&InvalidScopeRejection) + Clone>,
    Arc<AtomicUsize>,
) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let layer = InvalidScopeObserverLayer::new(ScopeSet::new()).on_rejection(
        move |_: &InvalidScopeRejection| {
            counter.fetch_add(1, Ordering::SeqCst);
        },
    );
    (layer, calls)
}

#[test]
fn a_body_that_fails_midway_fails_the_same_through_the_layer() {
    let inner = service_fn(|_request: Request<()>| async {
        Ok::<_, Infallible>(rejection(FailsMidway { sent: false }))
    });
    let (layer, calls) = counting_layer();
    let service = layer.layer(inner);
    let ((first, second), events) = run_captured(async {
        let response = service.oneshot(Request::new(())).await.unwrap();
        let mut body = response.into_body();
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        let second = body.frame().await.unwrap().unwrap_err();
        (first, second)
    });
    assert_eq!(first, Bytes::from_static(b"first chunk"));
    assert_eq!(second, "connection reset");
    // The rejection was seen from the head alone, once.
    assert_eq!(ours(&events).len(), 1);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn a_future_dropped_before_completion_reports_nothing() {
    let (release, released) = oneshot::channel::<()>();
    let released = Arc::new(std::sync::Mutex::new(Some(released)));
    let inner = service_fn(move |_request: Request<()>| {
        let released = released.lock().unwrap().take().unwrap();
        async move {
            released.await.ok();
            Ok::<_, Infallible>(rejection(()))
        }
    });
    let (layer, calls) = counting_layer();
    let mut service = layer.layer(inner);
    let ((), events) = support::capture(|| {
        let future = service.call(Request::get("/authorize?scope=a").body(()).unwrap());
        let mut future = pin!(future);
        assert!(future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_pending());
        // dropped here, pending
    });
    drop(release);
    assert!(ours(&events).is_empty());
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

/// Polls `poll_ready` once without a runtime.
fn ready_now<S: Service<Request<()>>>(service: &mut S) -> bool {
    service
        .poll_ready(&mut Context::from_waker(Waker::noop()))
        .is_ready()
}

#[test]
fn concurrency_limit_backpressure_passes_through_unchanged() {
    fn inner() -> impl Service<
        Request<()>,
        Response = Response<()>,
        Error = Infallible,
        Future = impl Future<Output = Result<Response<()>, Infallible>>,
    > {
        service_fn(|request: Request<()>| async move {
            let gate = request.extensions().get::<Gate>().cloned();
            if let Some(Gate(gate)) = gate {
                gate.notified().await;
            }
            Ok::<_, Infallible>(rejection(()))
        })
    }

    #[derive(Clone)]
    struct Gate(Arc<tokio::sync::Notify>);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();

    // The same sequence through the bare limit and through the layer.
    let sequence = |observed: bool| -> Vec<bool> {
        let gate = Gate(Arc::new(tokio::sync::Notify::new()));
        let mut bare = ConcurrencyLimit::new(inner(), 1);
        let (layer, _) = counting_layer();
        let mut layered = layer.layer(ConcurrencyLimit::new(inner(), 1));
        let mut readiness = Vec::new();
        runtime.block_on(async {
            macro_rules! step {
                ($service:expr) => {{
                    readiness.push(ready_now(&mut $service));
                    let mut request = Request::new(());
                    request.extensions_mut().insert(gate.clone());
                    let held = tokio::spawn($service.call(request));
                    tokio::task::yield_now().await;
                    readiness.push(ready_now(&mut $service));
                    gate.0.notify_one();
                    held.await.unwrap().unwrap();
                    readiness.push(ready_now(&mut $service));
                }};
            }
            if observed {
                step!(layered);
            } else {
                step!(bare);
            }
        });
        readiness
    };
    let bare = sequence(false);
    let layered = sequence(true);
    assert_eq!(
        bare,
        [true, false, true],
        "the limit holds a permit while a call is in flight"
    );
    assert_eq!(layered, bare);
}

#[test]
fn under_a_buffer_rejections_are_still_reported() {
    let inner = service_fn(|_request: Request<()>| async { Ok::<_, Infallible>(rejection(())) });
    let (layer, calls) = counting_layer();
    let ((), events) = run_captured(async {
        // Buffer in front of the layer, and the layer in front of a buffer.
        let outer = Buffer::new(layer.layer(inner), 4);
        let inner_buffered = layer.layer(Buffer::new(inner, 4));
        for _ in 0..3 {
            outer.clone().oneshot(Request::new(())).await.unwrap();
            inner_buffered
                .clone()
                .oneshot(Request::new(()))
                .await
                .unwrap();
        }
    });
    assert_eq!(ours(&events).len(), 6);
    assert_eq!(calls.load(Ordering::SeqCst), 6);
}

#[test]
fn a_panicking_grantable_source_fails_no_request() {
    let inner = service_fn(|_request: Request<()>| async { Ok::<_, Infallible>(rejection(())) });
    let broken_registry = |_client_id: &str| -> ScopeSet { panic!("registry down") };
    let service = InvalidScopeObserverLayer::new(broken_registry).layer(inner);
    for _ in 0..2 {
        let (response, events) = run_captured(
            service
                .clone()
                .oneshot(Request::get("/authorize?scope=a").body(()).unwrap()),
        );
        assert_eq!(response.unwrap().status(), 302);
        for event in ours(&events) {
            assert_eq!(event.level, tracing::Level::ERROR);
            assert_eq!(
                event.message(),
                "oauth.authorize.invalid_scope.observer_panicked"
            );
            assert!(event.field("culprit").contains("faults"), "{event:?}");
        }
    }
}
