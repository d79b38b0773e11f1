from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from audit.admin_audit import AuditedModelAdmin, ReadOnlyAdmin
from config.http import client_ip
from crawling import services
from crawling.models import CrawlJob, Source


class SourceAdminForm(forms.ModelForm):
    class Meta:
        model = Source
        fields = services.SOURCE_APPROVED_FIELDS

    def clean(self) -> dict[str, Any]:
        data = super().clean() or self.cleaned_data
        if not self.errors:
            values = {f: data[f] for f in services.SOURCE_APPROVED_FIELDS if f in data}
            try:
                if self.instance.pk is None:
                    services.source_check(**values)
                else:
                    services.source_update_check(
                        source=Source.objects.get(pk=self.instance.pk), changes=values
                    )
            except ValidationError as exc:
                for field, messages in exc.message_dict.items():
                    self.add_error(field if field in self.fields else None, messages)
        return data


@admin.register(Source)
class SourceAdmin(AuditedModelAdmin):
    """Sources are added and changed through the crawling services: a change to anything the DPO
    approved sends the source back for approval. Approval and suspension are on the DPO's page."""

    form = SourceAdminForm
    list_display = [
        "name",
        "kind",
        "status",
        "lawful_basis",
        "art9_condition",
        "dpia_reference",
        "approved_at",
    ]
    list_filter = ["kind", "status", "lawful_basis"]
    readonly_fields = ["status", "status_reason", "approved_by", "approved_at", "created_at"]
    actions = None

    def save_model(self, request: HttpRequest, obj: Source, form: Any, change: bool) -> None:
        values = {
            f: form.cleaned_data[f]
            for f in services.SOURCE_APPROVED_FIELDS
            if f in form.cleaned_data
        }
        if change:
            changes = {f: values[f] for f in form.changed_data if f in values}
            saved = services.source_update(
                source=obj, changes=changes, actor=request.user, ip=client_ip(request)
            )
        else:
            saved = services.source_add(**values, actor=request.user)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A source is suspended on the DPO's page, never deleted: its record of lawfulness stays.
        return False


@admin.register(CrawlJob)
class CrawlJobAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "source",
        "status",
        "pages",
        "images_seen",
        "stored",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status"]
