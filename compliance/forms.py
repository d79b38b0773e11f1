from __future__ import annotations

from django import forms

from compliance.selectors import AuditFilters


class AuditFilterForm(forms.Form):
    since = forms.DateTimeField(label="From (UTC)", required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    until = forms.DateTimeField(label="Until (UTC)", required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    actor = forms.CharField(label="Actor contains", required=False, max_length=254)
    action = forms.CharField(label="Action starts with", required=False, max_length=120)
    organisation = forms.IntegerField(label="Organisation id", required=False, min_value=1)
    target = forms.CharField(label="Object (type or type:id)", required=False, max_length=190)

    def filters(self) -> AuditFilters:
        data = self.cleaned_data
        return AuditFilters(
            since=data.get("since"),
            until=data.get("until"),
            actor=data.get("actor") or None,
            action=data.get("action") or None,
            organisation_id=data.get("organisation"),
            target=data.get("target") or None,
        )
