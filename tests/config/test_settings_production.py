"""Production mode refuses development defaults; `check --deploy` is clean when configured."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from config import devservices

BASE_DIR = Path(__file__).resolve().parents[2]


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _log_key_file() -> str:
    """A signing key for the transparency log, as production is given one (never generated there)."""
    import tempfile

    from audit.signing import key_file_create

    path = Path(tempfile.mkdtemp(prefix="facesearch-prod-tlog-")) / "audit-log.key"
    key_file_create(path)
    return str(path)


def good_env() -> dict[str, str]:
    return {
        "AUDIT_LOG_SIGNING_KEY_FILE": _log_key_file(),
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_ALLOWED_HOSTS": "faces.example.org",
        "DATABASE_URL": devservices.database_url(settings.DATABASES["default"]),
        "REDIS_URL": settings.REDIS_URL,
        "SITE_URL": "https://faces.example.org",
        "CONTROLLER_NAME": "Acme Faces Ltd",
        "CONTROLLER_ADDRESS": "10 High Street, Leeds LS1 1AA",
        # A Fernet key (URL-safe base64 of 32 random bytes) for the live-capture frames.
        "CAPTURE_ENCRYPTION_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY"),
        (
            {"DJANGO_SECRET_KEY": "django-insecure-development-only-key-do-not-use-in-production"},
            "DJANGO_SECRET_KEY",
        ),
        ({"DJANGO_ALLOWED_HOSTS": ""}, "DJANGO_ALLOWED_HOSTS is empty"),
        ({"DJANGO_DEBUG": "true", "DJANGO_ENV": "production"}, "DEBUG is on"),
        ({"DATABASE_URL": ""}, "DATABASE_URL must be set"),
        ({"REDIS_URL": ""}, "REDIS_URL must be set"),
        # Emailed links would point at a development default (issue: links to port 8000).
        ({"SITE_URL": ""}, "SITE_URL is unset"),
        ({"SITE_URL": "faces.example.org"}, "SITE_URL is unset or not an http(s) URL"),
        ({"SITE_URL": "ftp://faces.example.org"}, "SITE_URL is unset or not an http(s) URL"),
        # The notice and the Art 30 record would name a placeholder controller.
        ({"CONTROLLER_NAME": ""}, "CONTROLLER_NAME is unset or a placeholder"),
        (
            {"CONTROLLER_NAME": "Face search demo controller"},
            "CONTROLLER_NAME is unset or a placeholder",
        ),
        (
            {"CONTROLLER_NAME": "Face search (set CONTROLLER_NAME)"},
            "CONTROLLER_NAME is unset or a placeholder",
        ),
        ({"CONTROLLER_ADDRESS": "   "}, "CONTROLLER_ADDRESS is unset or a placeholder"),
        # The transparency log's signing key: required, never generated in production.
        ({"AUDIT_LOG_SIGNING_KEY_FILE": ""}, "AUDIT_LOG_SIGNING_KEY_FILE is unset or missing"),
        (
            {"AUDIT_LOG_SIGNING_KEY_FILE": "/nonexistent/audit-log.key"},
            "AUDIT_LOG_SIGNING_KEY_FILE is unset or missing",
        ),
        (
            {"CONTROLLER_ADDRESS": "1 Example Street, Example City"},
            "CONTROLLER_ADDRESS is unset or a placeholder",
        ),
    ],
)
def test_production_refuses_bad_configuration(change, message):
    result = run_manage("check", **{**good_env(), **change})
    assert result.returncode != 0
    assert message in result.stderr


def test_development_gets_demo_controller_and_local_site_url():
    """Development needs no configuration: demo controller values, a local SITE_URL."""
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings'; django.setup();"
        "from django.conf import settings as s; print(s.SITE_URL); print(s.CONTROLLER_NAME); print(s.CONTROLLER_ADDRESS)"
    )
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SITE_URL", "CONTROLLER_NAME", "CONTROLLER_ADDRESS")
    }
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "http://127.0.0.1:8000",
        "Face search demo controller",
        "1 Example Street, Example City",
    ]


def test_check_deploy_is_clean_in_production(db):
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **good_env())
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_security_headers(client, db):
    response = client.get("/accounts/login/")
    assert response["X-Frame-Options"] == "DENY"
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Content-Type-Options"] == "nosniff"
