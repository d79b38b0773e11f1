"""Writes for subjects. The request workflow lands with its issue; suppression entries now."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from django.db import transaction

from compliance.services import audit_record
from subjects.models import Suppression
from subjects.selectors import suppression_hash


@transaction.atomic
def suppression_add(
    *,
    actor: object,
    request_reference: str,
    page_urls: Sequence[str] = (),
    image_urls: Sequence[str] = (),
    images: Sequence[bytes] = (),
) -> int:
    """Record an objector's pages and images (hashed) so they are never collected again."""
    entries = [(Suppression.Kind.PAGE_URL, suppression_hash(u)) for u in page_urls]
    entries += [(Suppression.Kind.IMAGE_URL, suppression_hash(u)) for u in image_urls]
    entries += [(Suppression.Kind.IMAGE, hashlib.sha256(b).hexdigest()) for b in images]
    created = 0
    for kind, digest in entries:
        _, new = Suppression.objects.get_or_create(
            kind=kind, value_sha256=digest, defaults={"request_reference": request_reference}
        )
        created += new
    audit_record(
        actor=actor,
        action="subjects.suppression.added",
        target="subjects.suppression",
        outcome="success",
        details={"request": request_reference, "entries": created},
    )
    return created
