"""The django-oauth-toolkit server the proxy's tests put the proxy in front of.

Run by proxy/tests/django.rs: migrate, create the two clients, runserver on
127.0.0.1. Nothing here is for production.
"""
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
