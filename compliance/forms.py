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


class RetentionPolicyForm(forms.Form):
    period_days = forms.IntegerField(label="Keep for (days)", min_value=0, max_value=36500)
    action = forms.ChoiceField(label="Then", choices=[("delete", "Delete"), ("anonymise", "Anonymise")])
    reason = forms.CharField(label="Reason", widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


class LegalHoldForm(forms.Form):
    scope = forms.ChoiceField(label="Covers", choices=[
        ("organisation", "A customer organisation's searches"), ("source", "A source's images and faces"),
        ("face", "One face and its image"), ("request", "A subject request"),
    ])  # fmt: skip
    organisation: forms.ModelChoiceField = forms.ModelChoiceField(label="Organisation", required=False, queryset=None)
    source_label = forms.CharField(label="Source name", required=False, max_length=200)
    face_id = forms.IntegerField(label="Face id", required=False, min_value=1)
    request_reference = forms.CharField(label="Request reference", required=False, max_length=100)
    reason = forms.CharField(label="Reason", widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        from accounts.models import Organisation

        self.fields["organisation"].queryset = Organisation.objects.all()  # type: ignore[attr-defined]
