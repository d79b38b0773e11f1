"""bench/load.py's setup and verification steps: plain Django, each run in its own process (locust
monkey-patches sockets), and the constants both sides share."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
FACES_DIR = BASE_DIR.parent / "shared" / "faces"
ORG_NAME = "Load bench"
SOURCE_NAME = "load-bench"
ANALYST_EMAIL = "load-analyst-{org:02d}-{n:02d}@bench.example.org"
PUBLIC_EMAIL_DOMAIN = "load.example.org"
FINAL_SEARCH_STATES = {"done", "failed"}
RATE_LIMIT_SETTINGS = ("SEARCH_RATE_LIMIT_PER_MINUTE", "SUBJECT_REQUESTS_PER_IP_PER_HOUR")


# --- Setup and verification: plain Django, in their own process (locust monkey-patches sockets) ---


def _django() -> None:
    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    from config.devservices import ensure_environment

    ensure_environment()  # settings start nothing: like manage.py, the bench starts the servers
    django.setup()


def _analyst(*, organisation: Any, email: str) -> Any:
    """The bench's analyst account ``email`` in ``organisation``, created through the invitation services."""
    from django.db import transaction

    from accounts import services as account_services
    from accounts.models import Membership, Role, User
    from compliance.services import audit_record

    with transaction.atomic():
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            user = User.objects.create_user(
                email=email, password=None, name="Load bench analyst"
            )  # no password: token only
            audit_record(
                actor=None,
                action="accounts.user.created",
                target=user,
                outcome="success",
                details={"via": "bench"},
            )
        if not Membership.objects.filter(user=user).exists():
            sent = account_services.invitation_create(
                organisation=organisation, email=email, role=Role.ANALYST, invited_by=None
            )
            account_services.invitation_accept(invitation_id=sent.invitation.pk, user=user)
    return user


def _index_photos(*, min_faces: int) -> dict[str, Any]:
    """Import ../shared/faces unless the index already holds ``min_faces`` faces."""
    from django.core.management import CommandError, call_command

    from search.models import Face

    faces = Face.objects.filter(status=Face.Status.ACTIVE).count()
    if faces >= min_faces:
        return {"faces": faces, "imported": False}
    if not FACES_DIR.is_dir():
        raise SystemExit(f"No photos to index: {FACES_DIR} is missing.")
    try:
        call_command("import_images", str(FACES_DIR / "images"), source=SOURCE_NAME, recursive=True)
    except CommandError as exc:
        raise SystemExit(
            f"Importing {FACES_DIR} into source {SOURCE_NAME!r} failed: {exc}\n"
            "Index some photos first as the README shows (import_images into an approved source), "
            "or run with --min-faces 0 to search an empty index."
        ) from exc
    return {"faces": Face.objects.filter(status=Face.Status.ACTIVE).count(), "imported": True}


def phase_setup(args: argparse.Namespace) -> int:
    _django()
    from django.db import transaction

    from accounts import services as account_services
    from accounts.models import Organisation
    from accounts.selectors import user_requires_mfa
    from compliance.services import audit_record

    # Each analyst must be able to search at least as fast as the run allows, every run this month.
    quota = 10_000_000
    tokens: list[str] = []
    for org_index in range(args.orgs):
        name = ORG_NAME if args.orgs == 1 else f"{ORG_NAME} {org_index + 1}"
        with transaction.atomic():
            org = Organisation.objects.filter(
                name=name
            ).first() or account_services.organisation_create(name=name)
            if org.monthly_search_quota != quota:
                org.monthly_search_quota = quota
                org.save(update_fields=["monthly_search_quota"])
                audit_record(
                    actor=None,
                    action="accounts.organisation.quota_set",
                    target=org,
                    outcome="success",
                    details={"quota": quota},
                )
        for n in range(org_index, args.analysts, args.orgs):
            user = _analyst(
                organisation=org, email=ANALYST_EMAIL.format(org=org_index + 1, n=n + 1)
            )
            if user_requires_mfa(user=user):
                raise SystemExit(f"{user.email} would need MFA; the bench's analysts must not.")
            tokens.append(account_services.api_token_rotate(user=user))
    index = _index_photos(min_faces=args.min_faces)
    Path(args.out).write_text(json.dumps({"tokens": tokens, **index}))
    return 0


def phase_verify(args: argparse.Namespace) -> int:
    _django()
    from subjects.models import SubjectRequest

    emails = json.loads(Path(args.emails).read_text())
    found = sorted(
        set(SubjectRequest.objects.filter(email__in=emails).values_list("email", flat=True))
    )
    Path(args.out).write_text(json.dumps({"found": found}))
    return 0


def phase(name: str, args: argparse.Namespace, *extra: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        cmd = [
            sys.executable,
            str(BASE_DIR / "bench" / "load.py"),
            "--phase",
            name,
            "--out",
            str(out),
            *extra,
        ]
        cmd += [
            "--analysts",
            str(args.analysts),
            "--orgs",
            str(args.orgs),
            "--min-faces",
            str(args.min_faces),
        ]
        # The setup's own output (import progress, mails of the invitations it accepts) goes to stderr.
        proc = subprocess.run(cmd, cwd=BASE_DIR, stdout=sys.stderr, check=False)
        if proc.returncode != 0 or not out.exists():
            raise SystemExit(f"The {name} step failed (exit {proc.returncode}).")
        return json.loads(out.read_text())
