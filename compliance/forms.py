from __future__ import annotations

from django import forms

from compliance.selectors import AuditFilters


class AuditFilterForm(forms.Form):
    since = forms.DateTimeField(
        label="From (UTC)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    until = forms.DateTimeField(
        label="Until (UTC)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
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
    # min_value 0, not 1: the service refuses a 0-day period with the reason, which the form would not give.
    period_days = forms.IntegerField(label="Keep for (days)", min_value=0, max_value=36500)
    action = forms.ChoiceField(
        label="Then", choices=[("delete", "Delete"), ("anonymise", "Anonymise")]
    )
    why = forms.CharField(
        label="Why this period (published in the record of processing)",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        required=False,
        help_text="The purpose the period serves and the rule it follows. Leave as it is unless the purpose changed.",
    )
    reason = forms.CharField(
        label="Reason for this change",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        help_text="Recorded in the audit log and the policy's change history; not published.",
    )


class LegalHoldForm(forms.Form):
    """One target field per scope; the page shows only the chosen scope's field (CSS), and the service names the
    field that is missing or wrong when the browser shows them all."""

    TARGET_FIELDS = {
        "organisation": "organisation",
        "source": "source_label",
        "face": "face_id",
        "request": "request_reference",
    }

    scope = forms.ChoiceField(
        label="Covers",
        choices=[
            ("organisation", "A customer organisation's searches"),
            ("source", "A source's images and faces"),
            ("face", "One face and its image"),
            ("request", "A subject request"),
        ],
    )
    organisation: forms.ModelChoiceField = forms.ModelChoiceField(
        label="Organisation", required=False, queryset=None
    )
    source_label = forms.ChoiceField(label="Source", required=False, choices=())
    face_id = forms.IntegerField(label="Face id", required=False, min_value=1)
    request_reference = forms.CharField(label="Request reference", required=False, max_length=100)
    reason = forms.CharField(
        label="Reason", widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        from accounts.models import Organisation
        from compliance.retention import legal_hold_source_names

        self.fields["organisation"].queryset = Organisation.objects.order_by("name")  # type: ignore[attr-defined]
        self.fields["source_label"].choices = [("", "---------")] + [
            (n, n) for n in legal_hold_source_names()
        ]  # type: ignore[attr-defined]
        for scope, name in self.TARGET_FIELDS.items():
            self.fields[name].widget.attrs["data-hold-target"] = scope

    def rows(self) -> list[tuple[forms.BoundField, str]]:
        """The fields in order, each with the scope it belongs to ('' for fields every hold needs)."""
        scope_of = {name: scope for scope, name in self.TARGET_FIELDS.items()}
        return [(self[name], scope_of.get(name, "")) for name in self.fields]
