"""The invariant matrix: one row per (guarantee × path that can break it).

Each module holds the rows for one area, as a table (``pytest.mark.parametrize`` with ids
``"<guarantee> × <path>"``). A row causes the situation with the real services (PostgreSQL,
Redis, storage, the face model where faces matter) and asserts what a person would check.
Add a row whenever a path is added.
"""

import pytest

# The helpers that the split modules share keep pytest's detailed assertion messages.
pytest.register_assert_rewrite(
    "tests.invariants.accounts_support",
    "tests.invariants.admin_support",
    "tests.invariants.ingest_support",
    "tests.invariants.logs_support",
)
