"""Settings: DOT with a clamping validator, session login and CSRF as usual."""
import os

SECRET_KEY = "tests-only, never deployed"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "project.urls"
USE_TZ = True

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "oauth2_provider",
    "project",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["DOT_DATABASE"],
    }
}
LOGIN_URL = "/test-login/"

# The scopes this server knows.
OAUTH2_PROVIDER = {
    "SCOPES": {"read": "Read", "write": "Write", "admin": "Admin", "billing": "Billing"},
    "OAUTH2_VALIDATOR_CLASS": "project.validator.ClampingValidator",
}

# Tracebacks of 500s to stderr.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"handlers": ["stderr"], "level": "ERROR"}},
}
