"""Reads for compliance. The audit log's reads moved to ``audit.selectors``; re-exported here."""

from __future__ import annotations

from audit.selectors import (
    AuditFilters,
    ChainReport,
    audit_anchor_list,
    audit_chain_verify,
    audit_event_list,
    audit_log_verify,
)

__all__ = [
    "AuditFilters",
    "ChainReport",
    "audit_anchor_list",
    "audit_chain_verify",
    "audit_event_list",
    "audit_log_verify",
]
