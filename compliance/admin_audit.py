"""The audited admin base moved to ``audit.admin_audit`` (every app's admin builds on it)."""

from audit.admin_audit import *  # noqa: F403
from audit.admin_audit import (  # noqa: F401
    AuditedAdminMixin,
    AuditedModelAdmin,
    PersonalDataAdmin,
    ReadOnlyAdmin,
)
