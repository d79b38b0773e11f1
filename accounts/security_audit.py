"""Account security events (logins, failed logins, password and MFA changes) into the audit log.

allauth and django.contrib.auth announce these only through signals, so this is the one place
where signals write audit rows; each handler only records, it decides nothing.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_out, user_login_failed
from django.db.models.signals import post_delete, post_save

from audit.services import audit_record, subject_pseudonym
from config.http import client_ip


def _ip(request: Any) -> str | None:

    return client_ip(request) if request is not None else None


def _on(action: str, outcome: str = "success") -> Any:
    def handler(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
        authenticator = kwargs.get("authenticator")
        details = {"type": authenticator.type} if authenticator is not None else {}
        audit_record(
            actor=user,
            action=action,
            target=user,
            outcome=outcome,
            ip=_ip(request),
            details=details,
        )

    return handler


def _audit_mfa(authenticator: Any, action: str) -> None:
    audit_record(
        actor=authenticator.user,
        action=action,
        target=authenticator.user,
        outcome="success",
        details={"type": authenticator.type},
    )


def _on_authenticator_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    # allauth announces MFA changes only after commit; the model signals fire inside the
    # transaction that makes the change, so the audit row commits (or rolls back) with it.
    if created:
        _audit_mfa(instance, "accounts.mfa.added")


def _on_authenticator_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    _audit_mfa(instance, "accounts.mfa.removed")


def _on_login_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    login = str(
        credentials.get("email") or credentials.get("username") or credentials.get("login") or ""
    )
    audit_record(
        actor=None,
        action="accounts.login.failed",
        target=None,
        outcome="failure",
        ip=_ip(request),
        details={"login_pseudonym": subject_pseudonym(login)} if login else {},
    )


HANDLERS: list[Any] = []


def connect() -> None:
    from allauth.account import signals as account_signals
    from allauth.mfa import signals as mfa_signals
    from allauth.mfa.models import Authenticator

    pairs = [
        (account_signals.user_logged_in, _on("accounts.login.succeeded")),
        (user_logged_out, _on("accounts.logout.succeeded")),
        (account_signals.password_changed, _on("accounts.password.changed")),
        (account_signals.password_reset, _on("accounts.password.reset")),
        (account_signals.password_set, _on("accounts.password.set")),
        (mfa_signals.authenticator_reset, _on("accounts.mfa.reset")),
        (mfa_signals.authentication_failed, _on("accounts.mfa.failed", outcome="failure")),
        (user_login_failed, _on_login_failed),
    ]
    for signal, handler in pairs:
        HANDLERS.append(handler)  # keep a strong reference
        signal.connect(handler, dispatch_uid=f"accounts.security_audit.{id(signal)}")
    post_save.connect(
        _on_authenticator_saved,
        sender=Authenticator,
        dispatch_uid="accounts.security_audit.mfa_saved",
    )
    post_delete.connect(
        _on_authenticator_deleted,
        sender=Authenticator,
        dispatch_uid="accounts.security_audit.mfa_deleted",
    )
