"""Project settings, read from the environment (django-environ).

Development defaults: DEBUG on. Importing settings starts nothing: the entry points (``make run``,
``manage.py``, the test session) start the embedded PostgreSQL + pgvector and Redis when
``DATABASE_URL`` / ``REDIS_URL`` are unset (config/devservices/). Production mode
(``DJANGO_DEBUG=false``) takes everything from the environment and refuses weak settings.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from config.logging_settings import logging_settings
from config.runner import served_url as _served_url

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

INSECURE_DEV_SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"  # noqa: S105

DEBUG = env.bool("DJANGO_DEBUG", default=True)
PRODUCTION = not DEBUG or env.str("DJANGO_ENV", default="development") == "production"
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=INSECURE_DEV_SECRET_KEY)
ALLOWED_HOSTS: list[str] = env.list(
    "DJANGO_ALLOWED_HOSTS",
    default=[] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"],
)
CSRF_TRUSTED_ORIGINS: list[str] = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# The public base URL for links in emails. `make run` sets it to the address it serves;
# production has no default and refuses to start without it.
# Outside `make run` (a command in a second shell), development links point at the address a running
# `make run` serves (it records it in .data/run.json; config/runner.py), else at port 8000.
SITE_URL = env.str(
    "SITE_URL", default="" if PRODUCTION else (_served_url() or "http://127.0.0.1:8000")
)
DPO_EMAIL = env.str("DPO_EMAIL", default="dpo@example.org")
# The controller named in the transparency notice and the Art 30 record. Development gets demo
# values; production refuses them (and anything unset).
DEMO_CONTROLLER_NAME = "Face search demo controller"
DEMO_CONTROLLER_ADDRESS = "1 Example Street, Example City"
CONTROLLER_NAME = env.str("CONTROLLER_NAME", default="" if PRODUCTION else DEMO_CONTROLLER_NAME)
CONTROLLER_ADDRESS = env.str(
    "CONTROLLER_ADDRESS", default="" if PRODUCTION else DEMO_CONTROLLER_ADDRESS
)


# --- Live capture (subjects/capture.py, docs/capture.md) -------------------------
# The frames of a live camera capture are kept ENCRYPTED (Fernet: AES-128-CBC + HMAC-SHA256) until the
# DPO decides, at most until the request is due. CAPTURE_ENCRYPTION_KEY is a Fernet key (32 bytes,
# URL-safe base64: `python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`).
# Development generates one once into .data/capture.key (0600); production refuses to start without it.
# CAPTURE_ATTEMPTS_PER_DAY bounds the captures one request may submit in 24 hours.


def _dev_capture_key() -> str:
    import base64
    import os

    path = BASE_DIR / ".data" / "capture.key"
    if path.exists():
        path.chmod(0o600)
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    try:  # two processes starting at once: the first one's key wins, the other reads it
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip() or key
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


CAPTURE_ENCRYPTION_KEY = env.str(
    "CAPTURE_ENCRYPTION_KEY", default="" if PRODUCTION else _dev_capture_key()
)
CAPTURE_ATTEMPTS_PER_DAY = env.int("CAPTURE_ATTEMPTS_PER_DAY", default=5)

# The transparency log (audit app): its name in checkpoints (default: <host of SITE_URL>/transparency/log)
# and its Ed25519 signing key (PEM PKCS#8). Development generates the key on first use (mode 0600);
# production requires the file and never generates one.
AUDIT_LOG_ORIGIN = env.str("AUDIT_LOG_ORIGIN", default="")
AUDIT_LOG_SIGNING_KEY_FILE = env.str(
    "AUDIT_LOG_SIGNING_KEY_FILE",
    default="" if PRODUCTION else str(BASE_DIR / ".data" / "audit-log.key"),
)
AUDIT_LOG_SIGNING_KEY_GENERATE = not PRODUCTION
# The sequencer: leaves per batch, and how often it looks for new ones (seconds).
AUDIT_SEQUENCER_BATCH = env.int("AUDIT_SEQUENCER_BATCH", default=5000)
AUDIT_SEQUENCER_POLL_SECONDS = env.float("AUDIT_SEQUENCER_POLL_SECONDS", default=0.2)


def _is_fernet_key(value: str) -> bool:
    import base64
    import binascii

    try:
        return len(base64.urlsafe_b64decode(value.strip().encode())) == 32
    except (binascii.Error, ValueError):
        return False


def check_production_settings(
    *,
    debug: bool,
    production: bool,
    secret_key: str,
    allowed_hosts: list[str],
    site_url: str = "",
    controller_name: str = "",
    controller_address: str = "",
    capture_encryption_key: str = "",
    email_url: str = "",
    audit_log_signing_key_file: str | None = None,
) -> None:
    """Refuse to run a production deployment with development defaults."""
    if not production:
        return
    problems = []
    if debug:
        problems.append("DEBUG is on (set DJANGO_DEBUG=false)")
    if not secret_key or secret_key == INSECURE_DEV_SECRET_KEY or len(secret_key) < 50:
        problems.append(
            "DJANGO_SECRET_KEY is unset, the development default, or shorter than 50 characters"
        )
    if not allowed_hosts:
        problems.append("DJANGO_ALLOWED_HOSTS is empty")
    parts = urlsplit(site_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(
            "SITE_URL is unset or not an http(s) URL (the public address used in emailed links)"
        )
    for name, value, demo in (
        ("CONTROLLER_NAME", controller_name, DEMO_CONTROLLER_NAME),
        ("CONTROLLER_ADDRESS", controller_address, DEMO_CONTROLLER_ADDRESS),
    ):
        if not value.strip() or value.strip() == demo or "(set " in value:
            problems.append(
                f"{name} is unset or a placeholder (it is shown to the public and in the Art 30 record)"
            )
    if not _is_fernet_key(capture_encryption_key):
        problems.append(
            "CAPTURE_ENCRYPTION_KEY is unset or not a Fernet key (32 bytes, URL-safe base64)"
        )
    if not email_url.strip():
        # Without it, emails to data subjects (verification links, answers) would be written to
        # files on the server and never reach anyone.
        problems.append("EMAIL_URL is unset (emails would be written to files, not sent)")
    if audit_log_signing_key_file is not None and not Path(audit_log_signing_key_file).is_file():
        problems.append(
            "AUDIT_LOG_SIGNING_KEY_FILE is unset or missing (the transparency log's Ed25519 key,"
            " PEM PKCS#8; production never generates one)"
        )
    if problems:
        raise ImproperlyConfigured(
            "Refusing to start in production mode: " + "; ".join(problems) + "."
        )


check_production_settings(
    debug=DEBUG,
    production=PRODUCTION,
    secret_key=SECRET_KEY,
    allowed_hosts=ALLOWED_HOSTS,
    site_url=SITE_URL,
    controller_name=CONTROLLER_NAME,
    controller_address=CONTROLLER_ADDRESS,
    capture_encryption_key=CAPTURE_ENCRYPTION_KEY,
    email_url=env.str("EMAIL_URL", default=""),
    audit_log_signing_key_file=AUDIT_LOG_SIGNING_KEY_FILE,
)

# --- Applications -------------------------------------------------------------

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_htmx",
    "django_celery_beat",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "outbox",
    "audit",
    "accounts",
    "compliance",
    "search",
    "crawling",
    "subjects",
]

MIDDLEWARE = [
    # First: turns a 500 caused by an unreachable database/Redis into a 503 (config/middleware.py).
    "config.middleware.ServiceUnavailableMiddleware",
    # A NUL in the path, a query value or a header, or a control character in a cookie: a plain 400 (and the
    # bad cookie cleared) before the session, locale or CSRF middleware read them (config/middleware.py).
    "config.middleware.BadInputMiddleware",
    # The visitor's language on public pages only (/rights/, /transparency/); staff pages stay English.
    # Early, so that the size limit's 413 page below is in it too (it reads a cookie, not the session).
    "config.i18n.PublicLocaleMiddleware",
    # Refuses oversized bodies from Content-Length before anything reads them.
    "config.middleware.RequestSizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # A member of a deactivated organisation is logged out with a page saying so (before the MFA gate).
    "accounts.middleware.ActiveAccessMiddleware",
    "accounts.middleware.RequireMFAMiddleware",
    # Last, so it sees a view's exception first: a service's refusal (config.errors.ApplicationError)
    # a view let through is its message, with its status (config/refusals.py).
    "config.refusals.ApplicationErrorMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.roles",
            ],
            # Public i18n (language switcher, translated labels and dates) is shared by every app.
            "libraries": {"public_i18n": "config.templatetags.public_i18n"},
        },
    },
]

# --- Services: database and Redis --------------------------------------------

# Settings only read the environment: they start nothing. `make run` (config/runner.py), the test
# session (tests/conftest.py) and manage.py start the embedded servers when the URLs are unset
# outside production and write DATABASE_URL / REDIS_URL (config.devservices.ensure_environment).
# Without them (mypy's Django plugin, an import in a shell) a development checkout points at
# placeholders that fail on first use, never at a server started behind one's back.
DEV_PLACEHOLDER_DATABASE_URL = "postgres://postgres@localhost:5432/facesearch"
DEV_PLACEHOLDER_REDIS_URL = "redis://127.0.0.1:6379/0"
if PRODUCTION and not env.str("DATABASE_URL", default=""):
    raise ImproperlyConfigured("DATABASE_URL must be set in production mode.")
DATABASES = {"default": env.db("DATABASE_URL", default=DEV_PLACEHOLDER_DATABASE_URL)}
# A Unix-socket directory is written percent-encoded in the URL's host part.
DATABASES["default"]["HOST"] = unquote(DATABASES["default"]["HOST"])
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

if PRODUCTION and not env.str("REDIS_URL", default=""):
    raise ImproperlyConfigured("REDIS_URL must be set in production mode.")
REDIS_URL = env.str("REDIS_URL", default=DEV_PLACEHOLDER_REDIS_URL)


def redis_db_url(url: str, db: int) -> str:
    """The same Redis server with another logical database (cache apart from the broker)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


# Redis, falling back to the database table ``cache_fallback`` while Redis is unreachable, so
# rate limits (login included) keep working during a Redis outage (config/cache.py).
CACHES = {
    "default": {
        "BACKEND": "config.cache.RedisWithDatabaseFallback",
        "LOCATION": env.str("CACHE_URL", default=redis_db_url(REDIS_URL, 1)),
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="facesearch"),
        "OPTIONS": {
            "RETRY_SECONDS": env.float("CACHE_REDIS_RETRY_SECONDS", default=5.0),
            "socket_connect_timeout": 1.0,
            "socket_timeout": 2.0,
        },
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Celery (wiring in config/celery.py) --------------------------------------

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=300)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=360)

# --- Broker optional for the web, cheap health checks -------------------------------
# No code reads a task's result: ignoring results keeps the result backend out of every enqueue (its
# reconnect raised RuntimeError while Redis was down); config.tasks.enqueue catches the broker's errors.
CELERY_TASK_IGNORE_RESULT = True
# /healthz/ready runs its checks at most once per this many seconds per process; callers share the answer.
HEALTH_READY_CACHE_SECONDS = env.int("HEALTH_READY_CACHE_SECONDS", default=10)
# ...and answers each client address at most this many times a minute (429 after).
HEALTH_READY_PER_MINUTE = env.int("HEALTH_READY_PER_MINUTE", default=600)

# --- Authentication -----------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "account_login"

ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Face search] "
# Failed logins: at most 5 per 5 minutes per address and per account (django cache = Redis).
ACCOUNT_RATE_LIMITS = {
    "login_failed": env.str("LOGIN_FAILED_RATE_LIMIT", default="10/m/ip,5/5m/key"),
    "signup": "10/h/ip",
    "reset_password": "5/h/ip,3/h/key",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = env.str("MFA_TOTP_ISSUER", default="Face search")
# One 30-second step either side: phones drift, and a code typed at the turn of a step still works.
MFA_TOTP_TOLERANCE = 1
# The pending TOTP secret survives page reloads until activated (accounts/mfa.py).
MFA_FORMS = {"activate_totp": "accounts.mfa.StableActivateTOTPForm"}
INVITATION_VALID_DAYS = env.int("INVITATION_VALID_DAYS", default=7)
# --- Accounts: API tokens (accounts.models.ApiToken) --------------------------------
# An API token works this many days after it is created (then 401 token_expired; the holder makes
# a new one). Tokens are also revoked on a password change or reset, a role change and deactivation.
API_TOKEN_VALID_DAYS = env.int("API_TOKEN_VALID_DAYS", default=90)
if API_TOKEN_VALID_DAYS < 1:
    raise ImproperlyConfigured("API_TOKEN_VALID_DAYS must be at least 1")
# The latest expiry a user may choose for a token (the default stays API_TOKEN_VALID_DAYS).
API_TOKEN_MAX_VALID_DAYS = env.int("API_TOKEN_MAX_VALID_DAYS", default=365)
if API_TOKEN_MAX_VALID_DAYS < API_TOKEN_VALID_DAYS:
    raise ImproperlyConfigured("API_TOKEN_MAX_VALID_DAYS must be at least API_TOKEN_VALID_DAYS")
# Live tokens one user may hold at once (one per integration; a runaway script cannot mint thousands).
API_TOKENS_PER_USER = env.int("API_TOKENS_PER_USER", default=20)
if API_TOKENS_PER_USER < 1:
    raise ImproperlyConfigured("API_TOKENS_PER_USER must be at least 1")

# --- Email --------------------------------------------------------------------

if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
else:
    # No mail server: one file per email (0600, folder 0700); the log names the subject, the
    # recipients and the file, never the body (it holds secret status and verification links).
    EMAIL_BACKEND = "config.mail.PrivateFileEmailBackend"
    EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(BASE_DIR / ".data" / "mail"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Face search <no-reply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- API ----------------------------------------------------------------------

# /api/schema/ and /api/docs/: open in development; in production only to signed-in users
# (session or API token) unless API_DOCS_PUBLIC=true.
API_DOCS_PUBLIC = env.bool("API_DOCS_PUBLIC", default=not PRODUCTION)
# Reverse proxies in front of the web server that append to X-Forwarded-For (0: none, the
# client is REMOTE_ADDR). See config.http.client_ip and docs/operations.md.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# --- Internationalisation, static and media -----------------------------------

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
# The public side (config/i18n.py) in the languages of the regulators that acted; staff pages stay English.
# English is the source language; locale/ holds the others' catalogues (compiled by `python -m config.i18n`).
LANGUAGES = [
    ("en-gb", "English"),
    ("fr", "Français"),
    ("it", "Italiano"),
    ("nl", "Nederlands"),
    ("de", "Deutsch"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_NAME = "django_language"
LANGUAGE_COOKIE_AGE = int(timedelta(days=365).total_seconds())
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SECURE = PRODUCTION
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / ".data" / "media")))
# Source photos, crops and access packages are personal data: no world access.
FILE_UPLOAD_PERMISSIONS = 0o640
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o750
# Media goes through Django's storage API only: the local filesystem under MEDIA_ROOT by default;
# S3 (private objects) with STORAGE_URL=s3://KEY:SECRET@HOST:PORT/BUCKET or AWS_S3_ENDPOINT_URL + AWS_*;
# STORAGE=s3 alone (development) starts the embedded SeaweedFS. See config/storage.py.
from config.storage import media_storage  # noqa: E402

STORAGES = {
    "default": media_storage(env, production=PRODUCTION),
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Security headers -----------------------------------------------------------

X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = int(timedelta(hours=12).total_seconds())
CSRF_COOKIE_HTTPONLY = True
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int(
        "DJANGO_SECURE_HSTS_SECONDS", default=int(timedelta(days=365).total_seconds())
    )
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
    if env.bool("DJANGO_BEHIND_TLS_PROXY", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Logging --------------------------------------------------------------------

# No secret link in any log line: every handler redacts paths (config/logredact.py), and Django's own
# "django" and "django.server" loggers (runserver's request lines, "Not Found: <path>") write through
# these handlers instead of Django's defaults. ADMINS is unset, so no error report goes out by email.
LOGGING = logging_settings(level=env.str("LOG_LEVEL", default="INFO"))

if not PRODUCTION:
    import warnings

    # whitenoise warns while `collectstatic` has not run; in development the finders serve.
    warnings.filterwarnings("ignore", message="No directory at", module="whitenoise.base")

from config.settings_product import *  # noqa: E402, F403  (face pipeline, search, crawler, requests)

# Only the test suite may fetch from loopback (its local test site); never in production.
CRAWL_ALLOW_LOOPBACK = env.bool("CRAWL_ALLOW_LOOPBACK", default=False) and not PRODUCTION
