"""Every change made in Django admin lands in the audit log, with a readable diff, in the admin's transaction.

``AuditedAdminMixin`` is the one place: it overrides ``ModelAdmin.log_addition``, ``log_change`` and
``log_deletions`` (Django's own hooks; the admin's history page still gets its ``LogEntry``) and
records, for each object, an event ``admin.<app>.<model>.<added|changed|deleted>`` whose target type
and id are the object's own (``search.face`` and ``42``), so the auditor's object filter finds it.

The old values are read from the database, locked, in ``get_object`` and ``save_form`` (before the
form's object is saved, in the admin's transaction: every admin POST is one) and compared with the
row as saved, field by field, many-to-many included. Values that must never reach the log are
redacted by field type (files, binary data, vectors) and by name (passwords and their hashes, tokens
and their hashes, secrets, keys, templates, embeddings): the event says that the field changed,
never what it holds.

Every ``ModelAdmin`` of the project subclasses :class:`AuditedModelAdmin` (or uses the mixin), and
``audit_every_admin`` re-registers the admins that third-party apps registered (auth groups, allauth,
celery beat) with the mixin, so no admin change goes unaudited. ``ReadOnlyAdmin`` and
``PersonalDataAdmin`` are for records that only services write: view only, and no field that holds
an embedding, an image, a file or a secret is rendered.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.contrib import admin
from django.db import models, transaction
from django.http import HttpRequest
from django.urls import URLPattern

from config.http import client_ip

# Field names whose values never reach the audit log (or an admin page, for read-only admins).
SECRET_NAME = re.compile(
    r"(password|passwd|token|secret|(^|_)key($|_)|perceptual_hash|embedding|vector|template|selfie|probe$|thumbnail|otp|recovery)",
    re.IGNORECASE,
)
_SENSITIVE_TYPES: tuple[type, ...] = (models.FileField, models.BinaryField)


def field_is_sensitive(field: Any) -> bool:
    """Files, binary data, vectors and fields named like secrets: never shown, never logged."""
    if isinstance(field, _SENSITIVE_TYPES):
        return True
    if "vector" in type(field).__name__.lower():
        return True
    return bool(SECRET_NAME.search(getattr(field, "name", "") or ""))


def _plain(value: Any) -> Any:
    """A JSON value the audit log takes (no nested mappings: their keys could be anything)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, list | tuple | set | frozenset):
        items = [_plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


Snapshot = dict[str, Any]


def _audited_fields(model: type[models.Model]) -> list[Any]:
    opts = model._meta
    return [f for f in opts.concrete_fields if not f.primary_key] + list(opts.many_to_many)


def snapshot(model: type[models.Model], pk: Any, *, lock: bool = False) -> Snapshot | None:
    """The row's current values from the database (many-to-many as sorted ids), or None if it has none.

    With ``lock`` (inside the admin's transaction) the row is locked until the change commits.
    """
    if pk is None:
        return None
    rows = model._default_manager.filter(pk=pk)
    obj = (rows.select_for_update() if lock and not transaction.get_autocommit() else rows).first()
    if obj is None:
        return None
    return snapshot_of(obj)


def snapshot_of(obj: models.Model) -> Snapshot:
    values: Snapshot = {}
    for field in _audited_fields(type(obj)):
        if field.many_to_many:
            values[field.name] = (
                sorted(getattr(obj, field.name).values_list("pk", flat=True))
                if obj.pk is not None
                else []
            )
        else:
            values[field.name] = getattr(obj, field.attname)
    return values


def diff(
    model: type[models.Model],
    before: Snapshot | None,
    after: Snapshot | None,
    redact: frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """``[{"field", "old", "new"}]`` for every field that differs; sensitive ones (and ``redact``) as
    ``{"field", "redacted"}``."""
    before, after = before or {}, after or {}
    changes: list[dict[str, Any]] = []
    for field in _audited_fields(model):
        old, new = before.get(field.name), after.get(field.name)
        if old == new:
            continue
        if field_is_sensitive(field) or field.name in redact:
            changes.append({"field": field.name, "redacted": True})
        else:
            changes.append({"field": field.name, "old": _plain(old), "new": _plain(new)})
    return changes


def _inline_summary(message: Any) -> list[dict[str, Any]]:
    """What Django's change message says about inline objects (model and fields, never their text)."""
    if not isinstance(message, list):
        return []
    summary = []
    for entry in message:
        for verb, body in entry.items() if isinstance(entry, dict) else []:
            if isinstance(body, dict) and "name" in body:
                summary.append(
                    {
                        "verb": verb,
                        "model": str(body["name"]),
                        "fields": [str(f) for f in body.get("fields", [])],
                    }
                )
    return summary


def _atomic_post(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if request.method != "POST":
            return view(request, *args, **kwargs)
        with transaction.atomic():
            return view(request, *args, **kwargs)

    return wrapper


class AuditedAdminMixin:
    """Audit every admin addition, change and deletion with its diff (see the module docstring)."""

    # Fields of this model that hold secrets under an innocent name (redacted like the sensitive ones).
    audit_redacted_fields: frozenset[str] = frozenset()

    def _diff(
        self, model: type[models.Model], before: Snapshot | None, after: Snapshot | None
    ) -> list[dict[str, Any]]:
        return diff(model, before, after, frozenset(self.audit_redacted_fields))

    def _audit_before(self, request: HttpRequest) -> dict[tuple[str, str], Snapshot | None]:
        store = getattr(request, "_admin_audit_before", None)
        if store is None:
            store = {}
            request._admin_audit_before = store  # type: ignore[attr-defined]
        return store

    def get_urls(self) -> list[Any]:
        """Every admin view that writes (a POST) runs in one transaction: the change and its audit event
        commit together or not at all (Django's change and delete views are atomic; the password form and
        the list's actions are not)."""
        urls = super().get_urls()  # type: ignore[misc]
        for pattern in urls:
            if isinstance(pattern, URLPattern):
                pattern.callback = _atomic_post(pattern.callback)
        return urls

    def _remember_before(self, request: HttpRequest, pk: Any) -> None:
        model = self.model  # type: ignore[attr-defined]
        self._audit_before(request)[(model._meta.label_lower, str(pk))] = snapshot(
            model, pk, lock=True
        )

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Any:
        # Views that change an object without a model form (the user's password form) fetch it here first.
        obj = super().get_object(request, object_id, from_field)  # type: ignore[misc]
        if obj is not None and request.method == "POST":
            self._remember_before(request, obj.pk)
        return obj

    def save_form(self, request: HttpRequest, form: Any, change: bool) -> Any:
        # The form has already put the new values on its instance, not in the database: read the old ones there.
        if change and form.instance.pk is not None:
            self._remember_before(request, form.instance.pk)
        return super().save_form(request, form, change)  # type: ignore[misc]

    def _audit(
        self,
        request: HttpRequest,
        obj: models.Model,
        verb: str,
        changes: list[dict[str, Any]],
        inlines: Any = None,
        admin_action: str = "",
    ) -> None:
        from audit.services import audit_record

        details: dict[str, Any] = {"fields": [c["field"] for c in changes], "changes": changes}
        if inlines:
            details["inlines"] = inlines
        if admin_action:
            details["admin_action"] = admin_action
        audit_record(
            actor=request.user,
            action=f"admin.{obj._meta.label_lower}.{verb}",
            target=obj,
            outcome="success",
            ip=client_ip(request),
            details=details,
        )

    def log_addition(self, request: HttpRequest, obj: models.Model, message: Any) -> Any:
        entry = super().log_addition(request, obj, message)  # type: ignore[misc]
        model = type(obj)
        self._audit(
            request,
            obj,
            "added",
            self._diff(model, None, snapshot(model, obj.pk)),
            _inline_summary(message),
        )
        return entry

    def log_change(self, request: HttpRequest, obj: models.Model, message: Any) -> Any:
        entry = super().log_change(request, obj, message)  # type: ignore[misc]
        model = type(obj)
        store, key = self._audit_before(request), (model._meta.label_lower, str(obj.pk))
        if key not in store:
            # A view that neither fetched the object with get_object nor saved a form: the old values
            # were not read, so only the fields Django's message names are recorded, without values.
            fields = [
                f
                for e in message
                if isinstance(e, dict)
                for f in e.get("changed", {}).get("fields", [])
            ]
            changes = (
                [{"field": str(f), "old_values_read": False} for f in fields]
                if isinstance(message, list)
                else []
            )
            self._audit(request, obj, "changed", changes)
            return entry
        before = store.pop(key)
        self._audit(
            request,
            obj,
            "changed",
            self._diff(model, before, snapshot(model, obj.pk)),
            _inline_summary(message),
        )
        return entry

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        """Called before the deletion (single and bulk): each object's last values, as old → none."""
        objects = list(queryset)
        entries = super().log_deletions(request, objects)  # type: ignore[misc]
        for obj in objects:
            self._audit(request, obj, "deleted", self._diff(type(obj), snapshot_of(obj), None))
        return entries

    def response_action(
        self, request: HttpRequest, queryset: Any, *args: Any, **kwargs: Any
    ) -> Any:
        """Bulk actions, in one transaction with their audit. ``delete_selected`` logs through
        ``log_deletions``; any other action (which may ``update()`` rows, out of Django's log) is
        audited here, per object it changed, with the action's name."""
        from django.contrib.admin import helpers

        action = request.POST.get("action", "")
        model = self.model  # type: ignore[attr-defined]
        with transaction.atomic():  # (the POST is atomic already: see get_urls)
            before: dict[Any, Snapshot] = {}
            if action and action != "delete_selected":
                chosen = queryset
                if request.POST.get("select_across") != "1":
                    chosen = queryset.filter(
                        pk__in=request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
                    )
                pks = list(chosen.values_list("pk", flat=True))
                before = {
                    obj.pk: snapshot_of(obj)
                    for obj in model._default_manager.filter(pk__in=pks).select_for_update()
                }
            response = super().response_action(request, queryset, *args, **kwargs)  # type: ignore[misc]
            for pk, old in before.items():
                obj = model._default_manager.filter(pk=pk).first()
                changes = self._diff(model, old, snapshot_of(obj) if obj is not None else None)
                if changes:
                    verb = "changed" if obj is not None else "deleted"
                    self._audit(request, obj or model(pk=pk), verb, changes, admin_action=action)
        return response


class AuditedModelAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """The base of every project ``ModelAdmin``."""


class ReadOnlyAdmin(AuditedModelAdmin):
    """Records that only services write (audited): admins may read them, never add, change or delete.

    No field that holds a file, an image, binary data, a vector or a secret is rendered.
    """

    actions = None

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> list[str]:
        hidden = [
            f.name
            for f in self.model._meta.get_fields()
            if getattr(f, "concrete", False) and field_is_sensitive(f)
        ]
        return list(super().get_exclude(request, obj) or []) + [
            n for n in hidden if n not in (self.exclude or [])
        ]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        excluded = set(self.get_exclude(request, obj))
        return [f for f in super().get_fields(request, obj) if f not in excluded]


class PersonalDataAdmin(ReadOnlyAdmin):
    """Personal data (faces, photos, searches, subject requests): view only. It is changed or deleted
    through the services that keep the workflow (erasure, restriction, objection, retention), never here."""

    change_list_template = "admin/personal_data_change_list.html"


def audit_every_admin(site: admin.AdminSite) -> list[str]:
    """Re-register every admin that does not audit (third-party ones) with the mixin; returns their labels."""
    from django.apps import apps

    wrapped = []
    for model in apps.get_models():
        if not site.is_registered(model):
            continue
        model_admin = site.get_model_admin(model)
        if isinstance(model_admin, AuditedAdminMixin):
            continue
        cls = type(model_admin)
        audited = type(
            cls.__name__,
            (AuditedAdminMixin, cls),
            {"__module__": cls.__module__, "__doc__": cls.__doc__},
        )
        site.unregister(model)
        site.register(model, audited)
        wrapped.append(model._meta.label_lower)
    return wrapped
