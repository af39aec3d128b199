"""The validator: clamps scopes to the client's ceiling instead of rejecting."""
from django.conf import settings
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2.rfc6749.errors import InvalidScopeError

from .clients import client


class ClampingValidator(OAuth2Validator):
    def validate_scopes(self, client_id, scopes, client_, request, *args, **kwargs):
        """Keeps the requested scopes inside the ceiling, in the order asked.

        oauthlib passes `request.scopes` here and, after this returns, mints
        the code from `request.scopes` (DOT's `_create_authorization_code`
        joins it into the grant, whose scope the token then carries), so what
        is written back here is what gets stored.
        """
        entry = client(client_id)
        known = settings.OAUTH2_PROVIDER["SCOPES"]
        # Set by the consent POST only (through credentials), never by a query.
        submitted = request.__dict__.get("consent_submitted", False)
        unknown = [scope for scope in scopes if scope not in known]
        if submitted and entry.get("reject_unknown") and unknown:
            # Raised rather than returning False: oauthlib's own InvalidScopeError
            # carries no description.
            raise InvalidScopeError(
                description="Unknown scope: " + " ".join(unknown), request=request
            )
        clamped = []
        for scope in scopes:
            if scope in entry["ceiling"] and scope not in clamped:
                clamped.append(scope)
        request.scopes = clamped
        return True

    def is_pkce_required(self, client_id, request):
        """PKCE for the public clients only."""
        return client(client_id)["secret"] is None
