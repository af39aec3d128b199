"""A real Authlib authorization server (Flask, codes and tokens in SQLite) for
invalid-scope-proxy's tests on 127.0.0.1. Nothing here is for production.

Usage: PORT=N AUTHLIB_DATABASE=/path/db.sqlite3 python server.py

Client `narrowed` (secret `narrowed-s3cret-never-logged`, HTTP Basic): the
authorization code and client credentials grants, redirect
https://client.example/cb, allowed scope `read`. The server supports `read
write admin` (OAUTH2_SCOPES_SUPPORTED): a request for a scope outside those
is invalid_scope; a request for a supported scope the client may not have is
narrowed to the client's, silently (Authlib's `get_allowed_scope`).

GET /oauth/authorize grants at once for a fixed user (no login, no consent).
"""
import os
import sqlite3
import time

from authlib.common.security import generate_token
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from flask import Flask, jsonify, request

DATABASE = os.environ["AUTHLIB_DATABASE"]
REDIRECT_URI = "https://client.example/cb"


def database():
    connection = sqlite3.connect(DATABASE)
    connection.row_factory = sqlite3.Row
    return connection


with database() as db:
    db.execute(
        "CREATE TABLE IF NOT EXISTS codes (code TEXT PRIMARY KEY, client_id TEXT,"
        " redirect_uri TEXT, scope TEXT, user_id TEXT, issued_at REAL)"
    )
    db.execute(
        "CREATE TABLE IF NOT EXISTS tokens (access_token TEXT PRIMARY KEY, client_id TEXT,"
        " scope TEXT, user_id TEXT)"
    )


class Client(ClientMixin):
    """One registered client, with the checks Authlib asks of it."""

    def __init__(self, client_id, secret, scope):
        self.client_id = client_id
        self.secret = secret
        self.scope = scope

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return REDIRECT_URI

    def get_allowed_scope(self, scope):
        # What the client may have of what it asked: the rest is dropped.
        if not scope:
            return ""
        allowed = set(self.scope.split())
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri == REDIRECT_URI

    def check_client_secret(self, client_secret):
        return client_secret == self.secret

    def check_endpoint_auth_method(self, method, endpoint):
        return method == "client_secret_basic"

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type in ("authorization_code", "client_credentials")


CLIENTS = {"narrowed": Client("narrowed", "narrowed-s3cret-never-logged", "read")}


class Code:
    """An authorization code as Authlib reads it back."""

    def __init__(self, row):
        self.row = row

    def get_redirect_uri(self):
        return self.row["redirect_uri"]

    def get_scope(self):
        return self.row["scope"]

    def is_expired(self):
        return time.time() - self.row["issued_at"] > 300


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic"]

    def save_authorization_code(self, code, request):
        with database() as db:
            db.execute(
                "INSERT INTO codes VALUES (?, ?, ?, ?, ?, ?)",
                (
                    code,
                    request.client.get_client_id(),
                    request.payload.redirect_uri,
                    request.scope,
                    request.user["id"],
                    time.time(),
                ),
            )

    def query_authorization_code(self, code, client):
        with database() as db:
            row = db.execute(
                "SELECT * FROM codes WHERE code = ? AND client_id = ?",
                (code, client.get_client_id()),
            ).fetchone()
        return Code(row) if row else None

    def delete_authorization_code(self, authorization_code):
        with database() as db:
            db.execute("DELETE FROM codes WHERE code = ?", (authorization_code.row["code"],))

    def authenticate_user(self, authorization_code):
        return {"id": authorization_code.row["user_id"]}


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic"]


def save_token(token, request):
    user = request.user["id"] if request.user else None
    with database() as db:
        db.execute(
            "INSERT INTO tokens VALUES (?, ?, ?, ?)",
            (token["access_token"], request.client.get_client_id(), token.get("scope"), user),
        )


app = Flask(__name__)
app.config["OAUTH2_SCOPES_SUPPORTED"] = ["read", "write", "admin"]
server = AuthorizationServer(app, query_client=CLIENTS.get, save_token=save_token)
server.register_grant(AuthorizationCodeGrant)
server.register_grant(ClientCredentialsGrant)


@app.get("/oauth/authorize")
def authorize():
    """Grants at once for the one test user."""
    return server.create_authorization_response(grant_user={"id": "alice"})


@app.post("/oauth/token")
def issue_token():
    return server.create_token_response()


@app.get("/.well-known/oauth-authorization-server")
def metadata():
    base = request.host_url.rstrip("/")
    return jsonify(
        issuer=base,
        authorization_endpoint=base + "/oauth/authorize",
        token_endpoint=base + "/oauth/token",
        scopes_supported=app.config["OAUTH2_SCOPES_SUPPORTED"],
        response_types_supported=["code"],
        grant_types_supported=["authorization_code", "client_credentials"],
    )


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ["PORT"]))
