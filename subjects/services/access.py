"""Access: the data package (JSON and report), its download by token, and its expiry."""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import zipfile
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from audit.services import audit_record_many
from config.registry import retention_policies
from crawling.models import Source
from search.models import SearchHit, SearchRequest
from search.withholding import withheld_searches
from subjects.identity import identity_proven
from subjects.models import (
    AccessPackage,
    SubjectRequest,
)
from subjects.services.common import RequestRefused, _audit, _audit_entry, _confirmed_faces, _hash
from subjects.services.notify import _email, _url, regulator_text, request_language, status_link
from subjects.templatetags.public_i18n import day_date


def _do_access(request: SubjectRequest, **_: Any) -> dict[str, Any]:
    package, token = access_package_build(request=request)
    second_tier = identity_proven(request=request)
    _email(
        request,
        "access_ready",
        gettext_lazy("Your data is ready to download"),
        link=_url("subjects:package", token),
        expires=package.expires_at,
        second_tier=second_tier,
        capture_link=_capture_link(request),
    )
    return {
        "package_sha256": package.sha256,
        "faces": _confirmed_faces(request).count(),
        "second_tier": second_tier,
    }


def _capture_link(request: SubjectRequest) -> str:
    """The person's way to the second tier: their status page, where the live capture starts."""
    return status_link(request)


# Whether we hold photos matching the selfie is first-tier information, told as a band, never an exact count:
# an exact count lets whoever holds someone's photo watch, request after request, for each new photo of them
# appearing anywhere (one more means "a new photo of the target was published"), and combined with other
# knowledge can single photos out. A band answers "do you hold me, and roughly how much" (Art 15(1)) without
# that.
PHOTO_BANDS = [(0, gettext_noop("none")), (5, gettext_noop("1–5")), (20, gettext_noop("6–20"))]  # noqa: RUF001


PHOTO_BAND_MORE = gettext_noop("more than 20")


def photo_count_band(count: int) -> str:
    """The band (English; the report translates it) a number of photos falls in."""
    for top, label in PHOTO_BANDS:
        if count <= top:
            return label
    return PHOTO_BAND_MORE


PACKAGE_SOURCES_GENERAL = gettext_noop(
    "Public web pages found by our crawler, and photo files imported by declared sources (the pages of yours are in "
    "the second part of your answer)."
)


PACKAGE_RECIPIENT_CATEGORIES = gettext_noop(
    "Customer organisations that run face searches for stated cases (which ones saw your photos is in the second part "
    "of your answer)."
)


PACKAGE_SECOND_TIER_HOW = gettext_noop(
    "Your photos, the pages they come from, when we saw them and which organisations saw them are released once it is "
    "shown that you are the person in them: a short live camera check from your status page, or, if you cannot or will "
    "not use a camera, another way with our data-protection officer (for example a video call). We never ask for an ID "
    "document by default. Write to the data-protection officer and we will send the rest."
)


# data.json stays in English (for machines); report.html shows these translated (the public_label filter).
PACKAGE_PURPOSES = [
    gettext_noop(
        "Face search for customer organisations' stated cases (purpose, lawful basis and case reference recorded "
        "for every search)"
    )
]


# What we hold: the photos' kind follows where the person's own photos came from (a web page, or a file a source
# imported); with no photo, both kinds are listed as what we would hold.
PACKAGE_CATEGORY_BY_ORIGIN = {
    "web_page": gettext_noop("photos from public web pages"),
    "imported_file": gettext_noop("photo files imported by a declared source"),
}


PACKAGE_CATEGORIES = [
    gettext_noop("face crops"),
    gettext_noop("biometric templates (embeddings) derived from them"),
    gettext_noop("page and image addresses and dates"),
]


PACKAGE_RIGHTS = [
    gettext_noop("rectification (Art 16)"),
    gettext_noop("erasure (Art 17)"),
    gettext_noop("restriction (Art 18)"),
    gettext_noop("objection (Art 21)"),
]


PACKAGE_AUTOMATED_DECISIONS = gettext_noop(
    "None: matches are suggestions reviewed by people; no decision about you is made automatically."
)


PACKAGE_WITHHELD = gettext_noop(
    "Some information is withheld under a legal restriction (Art 23 GDPR)."
)


def _image_origin(image: Any) -> str:
    """Where a photo came from, as the person is told: 'web_page' (found on a web page) or 'imported_file' (a file
    that a source imported: a local source, or a photo with no web address)."""

    if image.source is not None and image.source.kind == Source.Kind.LOCAL:
        return "imported_file"
    return "web_page" if image.page_url or image.image_url else "imported_file"


def _package_json(request: SubjectRequest, *, second_tier: bool = True) -> str:
    """data.json. ``second_tier`` False (the requester is not shown to be the person): only what exposes nobody —
    purposes, categories, retention, rights, sources and recipients in general, how to complain, and whether we
    hold matching photos as a band; no photo, address, date or organisation."""
    if not second_tier:
        held = _confirmed_faces(request).values("image_id").distinct().count()
        return json.dumps(
            {
                "request": request.reference,
                "generated_at": timezone.now().isoformat(),
                "confirmation": bool(held),
                "tier": "first",
                "photos_held": photo_count_band(held),
                "second_tier_how": PACKAGE_SECOND_TIER_HOW,
                "images": [],
                "purposes": PACKAGE_PURPOSES,
                "categories": list(PACKAGE_CATEGORY_BY_ORIGIN.values()) + PACKAGE_CATEGORIES,
                "recipients": [],
                "recipient_categories": [PACKAGE_RECIPIENT_CATEGORIES],
                "retention": [
                    {"data": p.get_data_class_display(), "days": p.period_days, "then": p.action}
                    for p in retention_policies()
                ],
                "sources": [],
                "sources_in_general": PACKAGE_SOURCES_GENERAL,
                "rights": [*PACKAGE_RIGHTS, f"complain to the regulator: {regulator_text()}"],
                "automated_decisions": PACKAGE_AUTOMATED_DECISIONS,
                "dpo": settings.DPO_EMAIL,
            },
            indent=2,
        )

    images, withheld = [], False
    for face in _confirmed_faces(request).select_related("image", "image__source"):
        # Only released results were received: a repeat search held for confirmation showed nothing.
        hits = (
            SearchHit.objects.filter(face=face, search__status=SearchRequest.Status.DONE)
            .select_related("search__organisation")
            .order_by("created_at")
        )
        # Art 23: a search under a restriction the DPO approved is not shown (search.withholding).
        withheld = withheld or hits.filter(search__in=withheld_searches()).exists()
        hits = hits.exclude(search__in=withheld_searches())
        # One entry per organisation, with every time it was shown the photo.
        shown: dict[str, list[str]] = {}
        for hit in hits:
            shown.setdefault(hit.search.organisation.name, []).append(hit.created_at.isoformat())
        # Provenance shows web links and an import's own file name, never a server path.
        images.append(
            {
                "face": face.pk,
                "thumbnail": f"faces/{face.pk}.jpg",
                **face.image.provenance.as_dict(),
                "origin": _image_origin(face.image),
                "first_seen": face.image.first_seen.isoformat(),
                "last_seen": face.image.last_seen.isoformat(),
                "status": face.status,
                "recipients": [
                    {"organisation": name, "times": times} for name, times in sorted(shown.items())
                ],
            }
        )
    origins = {i["origin"] for i in images} or set(PACKAGE_CATEGORY_BY_ORIGIN)
    return json.dumps(
        {
            "request": request.reference,
            "generated_at": timezone.now().isoformat(),
            "confirmation": bool(images),
            "tier": "second",
            "photos_held": photo_count_band(
                _confirmed_faces(request).values("image_id").distinct().count()
            ),
            "images": images,
            "purposes": PACKAGE_PURPOSES,
            "categories": [c for o, c in PACKAGE_CATEGORY_BY_ORIGIN.items() if o in origins]
            + PACKAGE_CATEGORIES,
            "recipients": sorted({r["organisation"] for i in images for r in i["recipients"]}),
            "retention": [
                {"data": p.get_data_class_display(), "days": p.period_days, "then": p.action}
                for p in retention_policies()
            ],
            # Art 15(1)(g): the sources of this person's photos, not every source we crawl.
            "sources": sorted({i["source"] for i in images}),
            "rights": [*PACKAGE_RIGHTS, f"complain to the regulator: {regulator_text()}"],
            "automated_decisions": PACKAGE_AUTOMATED_DECISIONS,
            "dpo": settings.DPO_EMAIL,
            **({"withheld": PACKAGE_WITHHELD} if withheld else {}),
        },
        indent=2,
    )


def _report_context(data: dict[str, Any]) -> dict[str, Any]:
    """data.json's content with its timestamps as dates, for the report a person reads."""

    def when(value: str) -> Any:
        return datetime.fromisoformat(value) if value else None

    def days(times: list[str]) -> str:
        """The days an organisation was shown the photo, each once, in the active language."""
        return ", ".join(day_date(d) for d in sorted({when(t).date() for t in times}))

    images = [
        {
            **image,
            "first_seen": when(image["first_seen"]),
            "last_seen": when(image["last_seen"]),
            "recipients": [{**r, "days": days(r["times"])} for r in image["recipients"]],
        }
        for image in data["images"]
    ]
    return {
        "data": {**data, "images": images, "generated_at": when(data["generated_at"])},
        "rights": PACKAGE_RIGHTS,
        "regulator": regulator_text(),
    }


def access_package_build(*, request: SubjectRequest) -> tuple[AccessPackage, str]:
    """A ZIP with report.html (to read), data.json (for machines) and the face crops (only the person's).

    The one owner of what an access answer discloses: the second tier (crops, addresses, dates, organisations)
    only when ``identity_proven``; otherwise the first tier, which says how to get the rest."""
    second_tier = identity_proven(request=request)
    data = _package_json(request, second_tier=second_tier)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.json", data)
        with translation.override(
            request_language(request)
        ):  # the person's language, not the DPO's
            report = render_to_string(
                "subjects/access_report.html", _report_context(json.loads(data))
            )
        archive.writestr("report.html", report)
        for face in _confirmed_faces(request) if second_tier else ():
            if face.crop:
                with face.crop.open("rb") as fh:
                    archive.writestr(f"faces/{face.pk}.jpg", fh.read())
    content = buffer.getvalue()
    token = secrets.token_urlsafe(32)
    package = AccessPackage(
        request=request,
        sha256=hashlib.sha256(content).hexdigest(),
        token_hash=_hash(token),
        expires_at=timezone.now() + timedelta(days=settings.ACCESS_PACKAGE_DAYS),
    )
    package.file.save(
        f"{request.reference}-{secrets.token_hex(6)}.zip", ContentFile(content), save=False
    )
    package.save()
    return package, token


def access_package_download(*, token: str, ip: str | None = None) -> AccessPackage:
    with transaction.atomic():
        package = (
            AccessPackage.objects.select_for_update()
            .select_related("request")
            .filter(token_hash=_hash(token))
            .first()
        )
        if (
            package is None
            or package.deleted_at is not None
            or package.expires_at <= timezone.now()
        ):
            raise RequestRefused(_("This download link has expired."))
        package.downloads += 1
        package.save(update_fields=["downloads"])
        _audit(package.request, "package_downloaded", ip=ip, downloads=package.downloads)
    return package


def _deleter(name: str) -> Any:
    return lambda: default_storage.delete(name)


def access_packages_expire() -> int:
    """Delete packages whose link expired: one transaction, their audit events appended together,
    each file deleted once the rows have committed."""
    with transaction.atomic():
        expired = list(
            AccessPackage.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("request")
            .filter(deleted_at__isnull=True, expires_at__lte=timezone.now())
        )
        if not expired:
            return 0
        AccessPackage.objects.filter(pk__in=[p.pk for p in expired]).update(
            deleted_at=timezone.now(), file=""
        )
        audit_record_many(entries=[_audit_entry(p.request, "package_deleted") for p in expired])
        for package in expired:
            transaction.on_commit(_deleter(str(package.file.name)))
    return len(expired)
