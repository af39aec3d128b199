"""django-oauth-toolkit's endpoints under /o/, and a test-only login."""
from django.contrib.auth import get_user_model, login
from django.http import HttpResponse
from django.urls import include, path


def test_login(request):
    """Logs in the one test user, so the authorization endpoint answers."""
    user, _ = get_user_model().objects.get_or_create(username="alice")
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return HttpResponse("logged in")


urlpatterns = [
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("test-login/", test_login),
]
