"""The clients `manage.py seed` creates, with what the validator needs of each."""

REDIRECT_URI = "https://client.example/cb"

# client_id -> settings. "ceiling": the most a grant may carry (the rest is
# dropped); "required": what the consent POST must keep; "reject_unknown": a
# consent POST naming a scope the server does not know fails with invalid_scope.
CLIENTS = {
    "spa": {"secret": None, "ceiling": ["read", "write"]},
    "backend": {"secret": "backend-s3cret-never-logged", "ceiling": ["read"]},
    "strict": {
        "secret": "strict-s3cret-never-logged",
        "ceiling": ["read", "write"],
        "required": ["read", "write"],
    },
    "redirector": {
        "secret": "redirector-s3cret-never-logged",
        "ceiling": ["read"],
        "reject_unknown": True,
    },
    "firstparty": {"secret": None, "ceiling": ["read"], "skip_authorization": True},
}


def client(client_id):
    """The settings of `client_id`, or those of a client that may have nothing."""
    return CLIENTS.get(client_id, {"secret": None, "ceiling": []})
