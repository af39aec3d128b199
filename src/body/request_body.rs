//! [`RequestBody`]: a request body that remembers the first bytes of a form
//! as the inner service reads it.

use std::fmt;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use crate::capture::BodyCapture;

pin_project! {
    /// The request body the inner service sees when the layer reads bodies
    /// ([`observe_bodies`](crate::InvalidScopeObserverLayer::observe_bodies)).
    ///
    /// It yields exactly the frames of the original body, when the inner
    /// service asks for them: it never reads ahead, delays or changes a
    /// byte. For an `application/x-www-form-urlencoded` request it keeps a
    /// copy of the first bytes (8 KiB by default), from which a report reads
    /// `scope`, `client_id` and `grant_type`; any other body passes through
    /// untouched and uncopied.
    ///
    /// An axum handler or a hyper service behind the layer takes it as any
    /// body:
    ///
    /// ```
    /// use http::Request;
    /// use http_body_util::BodyExt;
    /// use invalid_scope_observer::body::RequestBody;
    ///
    /// async fn token(request: Request<RequestBody<String>>) -> String {
    ///     let form = request.into_body().collect().await.unwrap().to_bytes();
    ///     String::from_utf8_lossy(&form).into_owned()
    /// }
    /// # drop(token);
    /// ```
    pub struct RequestBody<B> {
        #[pin]
        inner: B,
        form: Option<BodyCapture>,
    }
}

impl<B: Default> Default for RequestBody<B> {
    /// `B`'s default body, copying nothing.
    ///
    /// ```
    /// use http_body::Body as _;
    /// use invalid_scope_observer::body::RequestBody;
    ///
    /// let body = RequestBody::<String>::default();
    /// assert!(body.is_end_stream());
    /// ```
    fn default() -> Self {
        Self::new(B::default(), None)
    }
}

impl<B> RequestBody<B> {
    pub(crate) fn new(inner: B, form: Option<BodyCapture>) -> Self {
        Self { inner, form }
    }

    /// The original body, unwatched: frames read from it after this call
    /// are not seen, so a report has only the form parameters read before.
    /// Keep the `RequestBody` (axum's extractors and hyper take it as it is)
    /// to keep them all.
    ///
    /// ```
    /// use invalid_scope_observer::body::RequestBody;
    ///
    /// let body = RequestBody::<String>::default();
    /// assert_eq!(body.into_inner(), "");
    /// ```
    pub fn into_inner(self) -> B {
        self.inner
    }
}

impl<B: Body> Body for RequestBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let frame = ready!(this.inner.as_mut().poll_frame(cx));
        if let Some(form) = this.form {
            match &frame {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        form.record(data);
                    }
                    if this.inner.is_end_stream() {
                        form.end();
                    }
                }
                None => form.end(),
                Some(Err(_)) => {}
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B: fmt::Debug> fmt::Debug for RequestBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBody")
            .field("inner", &self.inner)
            .field("observes_form", &self.form.is_some())
            .finish()
    }
}
