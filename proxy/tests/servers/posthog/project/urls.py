"""PostHog's paths (slash optional), DOT's token endpoint, a test-only login."""
from django.urls import path, re_path
from oauth2_provider.views import TokenView

from . import views

urlpatterns = [
    re_path(r"^oauth/authorize/?$", views.AuthorizeView.as_view()),
    re_path(r"^oauth/token/?$", TokenView.as_view()),
    re_path(r"^api/agentic/provisioning/?$", views.provisioning),
    re_path(r"^\.well-known/(?:openid-configuration|oauth-authorization-server)/?$", views.discovery),
    path("test-login/", views.test_login),
]
