"""Writes for data-subject requests, one module per part of the workflow.

Every transition is audited (the requester appears only as a keyed pseudonym). Selfies are
processed in memory and never stored or logged. Callers import from here; the names below are the
ones the rest of the project and the tests use.
"""

from __future__ import annotations

from subjects.services.access import (
    PACKAGE_AUTOMATED_DECISIONS,
    PACKAGE_CATEGORIES,
    PACKAGE_CATEGORY_BY_ORIGIN,
    PACKAGE_PURPOSES,
    PACKAGE_RECIPIENT_CATEGORIES,
    PACKAGE_RIGHTS,
    PACKAGE_SECOND_TIER_HOW,
    PACKAGE_SOURCES_GENERAL,
    PACKAGE_WITHHELD,
    PHOTO_BAND_MORE,
    PHOTO_BANDS,
    access_package_build,
    access_package_download,
    access_packages_expire,
    photo_count_band,
)
from subjects.services.candidates import (
    _match_bands,
    candidate_decide,
    candidates_decide,
    candidates_expand,
    selfie_analyse,
)
from subjects.services.common import DECIDE_FIRST, RequestRefused
from subjects.services.erasure import erase_confirmed, storage_objects_left, suppression_add
from subjects.services.intake import access_request_by_token, request_submit, request_verify
from subjects.services.notify import (
    _status_token,
    _url,
    dpo_digest,
    regulator_text,
    request_language,
    status_link,
)
from subjects.services.restriction import restriction_lift
from subjects.services.workflow import (
    TRANSITIONS,
    clarification_answer,
    request_execute,
    request_extend,
    request_transition,
    requests_lapse,
)

__all__ = [
    "DECIDE_FIRST",
    "PACKAGE_AUTOMATED_DECISIONS",
    "PACKAGE_CATEGORIES",
    "PACKAGE_CATEGORY_BY_ORIGIN",
    "PACKAGE_PURPOSES",
    "PACKAGE_RECIPIENT_CATEGORIES",
    "PACKAGE_RIGHTS",
    "PACKAGE_SECOND_TIER_HOW",
    "PACKAGE_SOURCES_GENERAL",
    "PACKAGE_WITHHELD",
    "PHOTO_BANDS",
    "PHOTO_BAND_MORE",
    "TRANSITIONS",
    "RequestRefused",
    "_match_bands",
    "_status_token",
    "_url",
    "access_package_build",
    "access_package_download",
    "access_packages_expire",
    "access_request_by_token",
    "candidate_decide",
    "candidates_decide",
    "candidates_expand",
    "clarification_answer",
    "dpo_digest",
    "erase_confirmed",
    "photo_count_band",
    "regulator_text",
    "request_execute",
    "request_extend",
    "request_language",
    "request_submit",
    "request_transition",
    "request_verify",
    "requests_lapse",
    "restriction_lift",
    "selfie_analyse",
    "status_link",
    "storage_objects_left",
    "suppression_add",
]
