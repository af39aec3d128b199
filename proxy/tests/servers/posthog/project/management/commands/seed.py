"""`manage.py seed`: creates or updates the clients of project/clients.py."""
from django.core.management.base import BaseCommand
from oauth2_provider.models import get_application_model

from project.clients import CLIENTS, REDIRECT_URI


class Command(BaseCommand):
    help = "Create the test clients (idempotent)."

    def handle(self, *args, **options):
        Application = get_application_model()
        for client_id, entry in CLIENTS.items():
            application = Application.objects.filter(client_id=client_id).first() or Application(
                client_id=client_id
            )
            application.name = client_id
            application.redirect_uris = REDIRECT_URI
            application.authorization_grant_type = Application.GRANT_AUTHORIZATION_CODE
            application.skip_authorization = entry.get("skip_authorization", False)
            if entry["secret"] is None:
                application.client_type = Application.CLIENT_PUBLIC
                application.client_secret = ""
            else:
                application.client_type = Application.CLIENT_CONFIDENTIAL
                application.client_secret = entry["secret"]
            application.save()
