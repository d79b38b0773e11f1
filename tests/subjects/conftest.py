"""Fixtures shared by the data-subject request modules (defined in requests_support.py)."""

from tests.subjects.requests_support import store  # noqa: F401
