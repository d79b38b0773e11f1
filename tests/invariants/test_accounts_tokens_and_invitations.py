"""Invariant matrix, accounts: API tokens, the last org admin, the served address in commands, and
invitations that leak nothing.

Each row causes the situation with the real services (PostgreSQL, Redis, allauth's own pages, real
management commands in a second process, real concurrent transactions) and asserts what a person
would check: the page or API answer, the rows, the emails, the audit log.
"""

# The matrix's row ids are "<guarantee> × <path>", as agreed for tests/invariants/.

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test import Client, TestCase
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import ApiToken, Invitation, Membership, Role, User
from compliance.models import AuditEvent
from config import devservices, runner
from tests.accounts import factories
from tests.invariants.accounts_support import NEW_PASSWORD, PASSWORD, Org, error, token_client

BASE_DIR = Path(__file__).resolve().parents[2]


# --- API tokens ----------------------------------------------------------------------------------------


def _refused(a: Org, key: str, code: str) -> None:
    response = token_client(key).get(reverse("api-search-detail", args=[999999]))
    assert response.status_code == 401
    assert error(response)["code"] == code


def token_row_password_change(a: Org) -> None:
    """Input: the analyst changes their password on allauth's page; the old token is used after."""
    response = a.web.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    _refused(a, a.key, "authentication_failed")
    events = AuditEvent.objects.filter(
        action="accounts.api_token.revoked", target_id=str(a.analyst.pk)
    )
    assert [e.details for e in events] == [{"reason": "password_changed"}]


def token_row_password_reset(a: Org) -> None:
    """Input: 'forgot password' from a logged-out browser, the emailed link, a new password; then the old token."""
    browser = Client()
    browser.post(reverse("account_reset_password"), {"email": a.analyst.email})
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+/)", mail.outbox[-1].body)
    assert link, mail.outbox[-1].body
    page = browser.get(link.group(1), follow=True)
    form_url = page.redirect_chain[-1][0] if page.redirect_chain else link.group(1)
    done = browser.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert done.status_code == 302, done.content.decode()[:2000]
    _refused(a, a.key, "authentication_failed")


def token_row_admin_password(a: Org) -> None:
    """Input: ``manage.py changepassword``'s path: ``set_password`` then ``save`` (Django admin does the same)."""
    user = User.objects.get(pk=a.analyst.pk)
    user.set_password(NEW_PASSWORD)
    user.save()
    _refused(a, a.key, "authentication_failed")


def token_row_expiry(a: Org) -> None:
    """Input: the token used one second after its expiry (API_TOKEN_VALID_DAYS after creation)."""
    token = ApiToken.objects.get(user=a.analyst)
    assert token.expires_at - token.created_at == timedelta(days=settings.API_TOKEN_VALID_DAYS)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    _refused(a, a.key, "token_expired")


def token_row_stored_hash(a: Org) -> None:
    """Input: a token made on the API token page; then every text column of the token tables searched for it."""
    page = a.web.post(reverse("accounts:api_token"), {"name": "Invariants"})
    key = re.search(r'<code class="token">([^<]+)</code>', page.content.decode()).group(1)
    assert (
        token_client(key).get(reverse("api-search-detail", args=[999999])).status_code == 404
    )  # it works
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM accounts_apitoken WHERE key_hash = %s", [key])
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT count(*) FROM authtoken_token")
        assert cursor.fetchone()[0] == 0
        cursor.execute(
            "SELECT count(*) FROM accounts_apitoken WHERE key_hash = %s",
            [hashlib.sha256(key.encode()).hexdigest()],
        )
        assert cursor.fetchone()[0] == 1
    assert key not in json.dumps(list(AuditEvent.objects.values_list("details", flat=True)))


def token_row_clear_token_migrated(a: Org) -> None:
    """Input: a clear DRF token as the old code stored it; the data migration; the same key used after."""
    from django.apps import apps
    from rest_framework.authtoken.models import Token

    ApiToken.objects.filter(user=a.owner).delete()
    legacy = Token.objects.create(user=a.owner)
    migration = __import__("accounts.migrations.0004_api_tokens_hashed", fromlist=["tokens_hash"])
    migration.tokens_hash(apps, SimpleNamespace(connection=connection))
    assert not Token.objects.exists()  # the clear key is gone from the database
    assert (
        ApiToken.objects.get(user=a.owner).key_hash
        == hashlib.sha256(legacy.key.encode()).hexdigest()
    )
    assert (
        token_client(legacy.key).get(reverse("api-search-detail", args=[999999])).status_code == 404
    )  # still works


def token_row_command(a: Org) -> None:
    """Input: ``manage.py api_token_create`` for the analyst; the printed key used on the API."""
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("api_token_create", a.analyst.email, stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    assert (
        token_client(key).get(reverse("api-search-detail", args=[999999])).status_code == 404
    )  # it works
    made = ApiToken.objects.get(key_hash=hashlib.sha256(key.encode()).hexdigest())
    assert made.user_id == a.analyst.pk and made.name == "Command line"
    assert (
        token_client(a.key).get(reverse("api-search-detail", args=[999999])).status_code == 404
    )  # one more token: the one made before still works


@pytest.mark.django_db
@pytest.mark.parametrize(
    "row",
    [
        pytest.param(token_row_command, id="token × api_token_create command"),
        pytest.param(token_row_password_change, id="token × password change"),
        pytest.param(token_row_password_reset, id="token × password reset"),
        pytest.param(
            token_row_admin_password, id="token × password set by admin or changepassword"
        ),
        pytest.param(token_row_expiry, id="token × expiry"),
        pytest.param(token_row_stored_hash, id="token × stored hash"),
        pytest.param(token_row_clear_token_migrated, id="token × clear token migrated to a hash"),
    ],
)
def test_api_token(acme: Org, row: Callable[[Org], None]) -> None:
    row(acme)


# --- The last org admin, under concurrent changes ---------------------------------------------------------


def _remove(target: Membership, actor: User) -> None:
    services.membership_remove(membership=target, actor=actor)


def _demote(target: Membership, actor: User) -> None:
    services.membership_set_role(membership=target, role=Role.ANALYST, actor=actor)


def _waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_stat_clear_snapshot()"
        )  # the view is a snapshot per transaction otherwise
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
            "AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "change",
    [
        pytest.param(_remove, id="org admin count × concurrent removal"),
        pytest.param(_demote, id="org admin count × concurrent demotion"),
    ],
)
def test_org_admin_count_under_concurrency(change) -> None:
    """Input: three org admins, each taking away the next one (A→B, B→C, C→A) at the same moment,
    in three threads with their own database connections."""
    org = factories.organisation("Three Admins Ltd")
    admins = [factories.member(org, role=Role.ORG_ADMIN) for _ in range(3)]
    memberships = [Membership.objects.get(user=u) for u in admins]
    refused: list[str] = []
    failures: list[BaseException] = []

    def work(i: int) -> None:
        try:
            change(memberships[(i + 1) % 3], admins[i])
        except ValidationError as exc:
            refused.append(" ".join(exc.messages))
        except BaseException as exc:  # noqa: BLE001 (reported below)
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    # Hold inserts into the audit log: every change writes its audit event after it has counted the admins,
    # so none can finish before the others have counted (the race, made certain rather than likely).
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE compliance_auditevent IN SHARE MODE")
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while _waiting_on_locks() < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _waiting_on_locks() == 3, "the three changes did not start together"
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    # Serialised: the first goes through; the one whose acting admin it removed is refused (or, were that
    # check not there, the last one counts a single admin left); the organisation keeps exactly one.
    assert Membership.objects.filter(organisation=org, role=Role.ORG_ADMIN).count() == 1
    assert len(refused) == 1, refused
    assert refused[0] in (
        "An organisation needs at least one org admin.",
        "You are no longer an org admin of this organisation.",
    )


# --- The served address in commands run from a second shell ------------------------------------------------


def _command(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SITE_URL", "EMAIL_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=devservices.database_url(settings.DATABASES["default"]),
        REDIS_URL=settings.REDIS_URL,
        DEV_DATA_DIR=str(tmp_path / "data"),
        EMAIL_FILE_PATH=str(tmp_path / "mail"),
    )
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result


def served_staff_create(tmp_path: Path, served: str) -> None:
    out = _command(
        tmp_path, "staff_create", "second.shell@facesearch.example", "--group", "dpo"
    ).stdout
    link = out.strip().splitlines()[-1]
    assert link.startswith(f"{served}/accounts/password/reset/key/"), out


def served_organisation_create(tmp_path: Path, served: str) -> None:
    out = _command(
        tmp_path,
        "organisation_create",
        "--name",
        "Second Shell Ltd",
        "--admin-email",
        "boss@second.example",
    ).stdout
    assert f"opens on {served}/" in out, out
    emails = [p.read_text() for p in (tmp_path / "mail").iterdir()]
    assert len(emails) == 1
    assert f"{served}/org/invitations/accept/" in emails[0]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "row",
    [
        pytest.param(served_staff_create, id="served address × staff_create"),
        pytest.param(served_organisation_create, id="served address × organisation_create"),
    ],
)
def test_served_address_in_commands(tmp_path: Path, monkeypatch, row) -> None:
    """Input: `make run` serving port 8765 (its record written by the runner's own code, this process
    standing in for the runner), then the command run from a second shell with SITE_URL unset."""
    monkeypatch.setenv("DEV_DATA_DIR", str(tmp_path / "data"))
    served = "http://127.0.0.1:8765"
    runner.served_url_record(served)
    assert runner.served_url() == served
    try:
        row(tmp_path, served)
    finally:
        runner.served_url_clear()
    assert runner.served_url() is None


def test_served_address_of_a_dead_runner_is_ignored(tmp_path: Path, monkeypatch) -> None:
    """Input: a record left by a runner killed with SIGKILL (its pid no longer exists)."""
    monkeypatch.setenv("DEV_DATA_DIR", str(tmp_path))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / runner.RUN_STATE_FILE).write_text(
        json.dumps({"url": "http://127.0.0.1:8765", "pid": dead.pid})
    )
    assert runner.served_url() is None


# --- No leak through invitations ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "address",
    [
        pytest.param(
            "member@other.example", id="no leak × invitation to another organisation's member"
        ),
        pytest.param("dpo@facesearch.example", id="no leak × invitation to a staff account"),
    ],
)
def test_invitation_answers_alike_for_any_address(acme: Org, address: str) -> None:
    """Input: the org admin invites an address that has an account elsewhere, and a fresh address;
    the two answers are compared."""
    other = factories.organisation("Elsewhere Ltd")
    if address.startswith("member"):
        factories.member(other, email=address)
    else:
        factories.staff("dpo", email=address)

    def invite(email: str) -> tuple[int, str, list[str]]:
        mail.outbox.clear()
        with TestCase.captureOnCommitCallbacks(execute=True):
            response = acme.owner_web.post(
                reverse("accounts:members"), {"email": email, "role": Role.ANALYST}, follow=True
            )
        html = response.content.decode().replace(email, "ADDRESS")
        notice = re.findall(r'class="message[^"]*"[^>]*>([^<]*)<', html)
        pending = Invitation.objects.filter(
            organisation=acme.org, email=email, status=Invitation.Status.PENDING
        )
        assert pending.count() == 1, f"no pending invitation listed for {email}"
        return response.status_code, " ".join(notice), [m.body for m in mail.outbox]

    status_known, notice_known, bodies_known = invite(address)
    status_new, notice_new, bodies_new = invite("fresh@new.example")
    assert (status_known, notice_known) == (status_new, notice_new)
    assert "Invitation sent to ADDRESS." in notice_known
    # The person with an account is told privately, and gets no link they could not use.
    assert len(bodies_known) == 1 and "/org/invitations/accept/" not in bodies_known[0]
    assert "/org/invitations/accept/" in bodies_new[0]
