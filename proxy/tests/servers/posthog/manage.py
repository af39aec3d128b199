"""A django-oauth-toolkit server answering in the shapes PostHog's does.

Start: migrate, seed (the clients), runserver on 127.0.0.1 with the database
at $DOT_DATABASE. Same venv as ../django (its requirements.txt). Nothing here
is for production.
"""
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
