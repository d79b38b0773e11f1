"""Fixtures shared by the split invariant modules (each defined in the module's support file)."""

from tests.invariants.accounts_support import acme  # noqa: F401
from tests.invariants.admin_support import admin_client, root  # noqa: F401
