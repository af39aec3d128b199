//! What both benches share: the requests, the Locations, a way to drive
//! futures that are ready at once without a runtime, a subscriber that
//! records events without formatting them, and the floors.
#![allow(dead_code)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};
use http::header::USER_AGENT;
use http::{HeaderValue, Request, Uri};

pub(crate) mod floor;
pub(crate) mod hand_written;

/// An authorization request with ten scopes, two of them not grantable.
pub(crate) const AUTHORIZE: &str = "/authorize?response_type=code&client_id=wizard\
    &redirect_uri=https%3A%2F%2Fclient.example%2Fcb\
    &scope=s0+s1+s2+s3+s4+s5+s6+s7+missing:a+missing:b&state=af0ifjsldkj";
pub(crate) const CODE_REDIRECT: &str =
    "https://client.example/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=af0ifjsldkj";
/// An RFC 9207 success redirect, as node-oidc-provider and Keycloak send
/// after every login: the issuer rides along, percent-escaped.
pub(crate) const ISSUER_REDIRECT: &str =
    "https://client.example/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=af0ifjsldkj\
    &iss=https%3A%2F%2Fas.example.com%2Frealms%2Fmain";
/// An authorization request by reference to a pushed one (PAR, RFC 9126).
pub(crate) const PAR_AUTHORIZE: &str = "/authorize?client_id=wizard\
    &request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Abwc4JK-ESC0w8acc191e-Y1LTC2";
pub(crate) const REJECTION: &str =
    "https://client.example/cb?error=invalid_scope&state=af0ifjsldkj";
pub(crate) const USER_AGENT_TEXT: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";

/// Drives a future that is ready at once.
pub(crate) fn now<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("every service here answers at once"),
    }
}

/// Bytes whose buffer is already shared, as hyper's parser hands them out.
fn shared(text: &str) -> Bytes {
    let bytes = BytesMut::from(text.as_bytes()).freeze();
    let _promote_to_shared = bytes.clone();
    bytes
}

/// Builds requests the way hyper does: `Uri` and `User-Agent` over shared
/// bytes, so cloning either is a reference-count bump.
#[derive(Clone)]
pub(crate) struct HyperBuilt {
    uri: Bytes,
    user_agent: Bytes,
}

impl HyperBuilt {
    pub(crate) fn new(uri: &str) -> Self {
        Self {
            uri: shared(uri),
            user_agent: shared(USER_AGENT_TEXT),
        }
    }

    pub(crate) fn request<B: Default>(&self) -> Request<B> {
        let mut request = Request::new(B::default());
        *request.uri_mut() = Uri::from_maybe_shared(self.uri.clone()).unwrap();
        request.headers_mut().insert(
            USER_AGENT,
            HeaderValue::from_maybe_shared(self.user_agent.clone()).unwrap(),
        );
        request
    }
}

/// A subscriber that records every event and throws it away: it visits each
/// field (so every value's `Display`, the layer's escaping included, runs
/// into `io::sink()`) and formats nothing itself. Under it, a rejection
/// costs the layer's whole share of an event, with no formatter on top.
pub(crate) struct RecordingSubscriber;

impl tracing::Subscriber for RecordingSubscriber {
    fn enabled(&self, _metadata: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _span: &tracing::span::Id, _values: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _span: &tracing::span::Id, _follows: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        event.record(&mut IntoSink);
    }

    fn enter(&self, _span: &tracing::span::Id) {}

    fn exit(&self, _span: &tracing::span::Id) {}
}

struct IntoSink;

impl tracing::field::Visit for IntoSink {
    fn record_debug(&mut self, _field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::io::Write as _;
        let _ = write!(std::io::sink(), "{value:?}");
    }
}
