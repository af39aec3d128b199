"""The authorization endpoint, the provisioning endpoint and discovery."""
import base64
import binascii
import json
import uuid

from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth.hashers import check_password
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.http import OAuth2ResponseRedirect
from oauth2_provider.models import get_application_model
from oauth2_provider.views.mixins import OAuthLibMixin

from .clients import client

Application = get_application_model()


def test_login(request):
    """Logs in the one test user; the answer sets `sessionid` and `csrftoken`."""
    user, _ = get_user_model().objects.get_or_create(username="alice")
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    get_token(request)
    return HttpResponse("logged in")


class AuthorizeView(OAuthLibMixin, View):
    """GET: the consent page (or a code at once for skip_authorization).
    POST (JSON, from the consent page): `{"redirect_to": ...}` or a JSON error."""

    def get(self, request):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        try:
            scopes, credentials = self.validate_authorization_request(request)
        except OAuthToolkitError as error:
            return self.error(error, json_redirect=False)
        application = Application.objects.get(client_id=credentials["client_id"])
        if application.skip_authorization:
            try:
                uri, _, _, _ = self.create_authorization_response(
                    request, " ".join(scopes), credentials, allow=True
                )
            except OAuthToolkitError as error:
                return self.error(error, json_redirect=False)
            return OAuth2ResponseRedirect(uri, application.get_allowed_schemes())
        fields = {
            key: credentials.get(key)
            for key in (
                "client_id",
                "redirect_uri",
                "response_type",
                "state",
                "code_challenge",
                "code_challenge_method",
            )
        }
        fields["scope"] = " ".join(scopes)
        return render(
            request,
            "consent.html",
            {"application": application, "scopes": scopes, "fields": fields},
        )

    def post(self, request):
        if not request.user.is_authenticated:
            return JsonResponse({"error": "login_required"}, status=401)
        try:
            data = json.loads(request.body)
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("client_id"), str):
            return JsonResponse(
                {"error": "invalid_request", "error_description": "Expected a JSON object with client_id."},
                status=400,
            )
        allow = data.get("allow") is True
        scope = " ".join(str(data.get("scope") or "").split())
        entry = client(data["client_id"])
        missing = sorted(set(entry.get("required", [])) - set(scope.split()))
        if allow and missing:
            return JsonResponse(
                {
                    "error": "invalid_scope",
                    "error_description": "The grant is missing scopes the application requires: "
                    + ", ".join(missing),
                },
                status=400,
            )
        credentials = {
            key: data.get(key)
            for key in ("client_id", "redirect_uri", "response_type", "state")
        }
        for key in ("code_challenge", "code_challenge_method"):
            if data.get(key):
                credentials[key] = data[key]
        credentials["consent_submitted"] = True
        try:
            uri, _, _, _ = self.create_authorization_response(request, scope, credentials, allow)
        except OAuthToolkitError as error:
            return self.error(error, json_redirect=True)
        return JsonResponse({"redirect_to": uri})

    def error(self, error, json_redirect):
        """DOT's split: redirect when the client is known, else a JSON error."""
        redirect, response = self.error_response(error)
        if redirect:
            if json_redirect:
                return JsonResponse({"redirect_to": response["url"]})
            return OAuth2ResponseRedirect(response["url"], ["http", "https"])
        oauthlib_error = response["error"]
        return JsonResponse(
            {"error": oauthlib_error.error, "error_description": oauthlib_error.description},
            status=oauthlib_error.status_code,
        )


def provisioning_error(status, code, message):
    """The provisioning API's error envelope."""
    return JsonResponse(
        {"id": f"req_{uuid.uuid4().hex}", "type": "error", "error": {"code": code, "message": message}},
        status=status,
    )


def basic_client(request):
    """The confidential application the `Authorization: Basic` header proves, or None."""
    kind, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if kind.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    application = Application.objects.filter(client_id=client_id).first()
    if application is None or client(client_id)["secret"] is None:
        return None
    if not secret or not check_password(secret, application.client_secret):
        return None
    return application


@csrf_exempt
def provisioning(request):
    """POST {"client_id", "scopes": [...]} with HTTP Basic (client id, secret).

    Scopes outside the client's ceiling are rejected, not clamped."""
    if request.method != "POST":
        return provisioning_error(405, "method_not_allowed", "Use POST.")
    application = basic_client(request)
    if application is None:
        return provisioning_error(401, "invalid_client", "Client authentication failed.")
    try:
        data = json.loads(request.body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        data = {}
    scopes = data.get("scopes")
    if (
        data.get("client_id") != application.client_id
        or not isinstance(scopes, list)
        or not all(isinstance(scope, str) for scope in scopes)
    ):
        return provisioning_error(
            400, "invalid_request", "Expected client_id (the authenticated client) and scopes (a list of strings)."
        )
    ceiling = client(application.client_id)["ceiling"]
    outside = [scope for scope in scopes if scope not in ceiling]
    if outside:
        return provisioning_error(
            400, "invalid_scope", "Requested scopes are not allowed for this client: " + ", ".join(outside)
        )
    return JsonResponse(
        {
            "id": f"prov_{uuid.uuid4().hex}",
            "type": "provisioning",
            "client_id": application.client_id,
            "scopes": scopes,
        }
    )


def discovery(request):
    """RFC 8414 metadata, addressed by the Host the request came in on."""
    base = request.build_absolute_uri("/").rstrip("/")
    return JsonResponse(
        {
            "issuer": base,
            "authorization_endpoint": base + "/oauth/authorize",
            "token_endpoint": base + "/oauth/token",
            "scopes_supported": list(settings.OAUTH2_PROVIDER["SCOPES"]),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        }
    )
