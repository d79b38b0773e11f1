"""Every refusal a person reads has the one shape (config.errors.ApplicationError), and the fault
hooks of the worker tests live only under tests/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from config.errors import ApplicationError
from crawling.services import CrawlRefused
from search import engine, services
from search.monitoring import ConfirmationRefused
from search.services import SearchLimitExceeded
from search.withholding import WithholdingRefused
from subjects.capture import CaptureRefused
from subjects.services import RequestRefused

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("error", "code", "status"),
    [
        (RequestRefused("Too many requests."), "request_refused", 400),
        (CrawlRefused("The source is suspended."), "crawl_refused", 400),
        (SearchLimitExceeded("Monthly search quota reached."), "limit_exceeded", 429),
        (ConfirmationRefused("Not held.", code="not_held"), "not_held", 409),
        (WithholdingRefused("Already claimed.", code="already_claimed"), "already_claimed", 409),
        (CaptureRefused("Too many attempts today.", status=429), "capture_refused", 429),
        (engine.ImageRejected("too_large", "The photo is too large."), "too_large", 400),
    ],
)
def test_refusals_share_one_shape(error, code, status):
    """Input: each refusal class, raised as its raise sites raise it. Expect: an ApplicationError
    with its code and HTTP status, the message under both .message and .reason, and the API body."""
    assert isinstance(error, ApplicationError)
    assert (error.code, error.status) == (code, status)
    assert error.message == error.reason == str(error)
    assert error.as_body() == {"error": {"code": code, "message": error.message}}


def test_image_rejected_is_still_a_value_error():
    """Input: ImageRejected. Expect: still caught by callers that catch ValueError (re-embedding)."""
    with pytest.raises(ValueError, match="not a photo"):
        raise engine.ImageRejected("not_image", "not a photo")


def test_no_fault_hook_in_production_code():
    """Input: every Python module outside tests/ and bench/ (settings excepted, which only read the
    environment). Expect: none reads the worker-crash variables; search.services has no hook."""
    assert not hasattr(services, "_test_fault_hook")
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in {"tests", "bench"} or rel.parts[0].startswith("."):
            continue
        if rel.as_posix() == "config/test_settings.py":
            continue
        text = path.read_text()
        if "FACE_TEST_CRASH_SHA256" in text or "FACE_TEST_HOLD_FILE" in text:
            offenders.append(rel.as_posix())
        ast.parse(text)  # every module still parses
    assert not offenders
