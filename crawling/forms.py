"""The DPO's form to change a source's declaration (it goes back for approval if it was approved)."""

from __future__ import annotations

from typing import Any

from django import forms

from crawling.models import Art6Basis, Art9Condition, Source


class SourceEditForm(forms.Form):
    name = forms.CharField(max_length=200)
    scope = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="URL prefixes, one a line (web sources)",
    )
    jurisdictions = forms.CharField(
        max_length=200, help_text="ISO 3166 codes, comma-separated, e.g. FR, US-IL"
    )
    lawful_basis = forms.ChoiceField(choices=Art6Basis.choices, label="Lawful basis (Art 6)")
    art9_condition = forms.ChoiceField(choices=Art9Condition.choices, label="Art 9 condition")
    dpia_reference = forms.CharField(max_length=50, label="DPIA reference")
    crawl_rate = forms.FloatField(min_value=0.01, help_text="requests per second per host")
    page_limit = forms.IntegerField(min_value=1)
    max_depth = forms.IntegerField(min_value=0, max_value=32767)

    @classmethod
    def for_source(cls, source: Source, data: Any = None) -> SourceEditForm:
        initial = {
            "name": source.name,
            "scope": "\n".join(source.scope),
            "jurisdictions": ", ".join(source.jurisdictions),
            "lawful_basis": source.lawful_basis,
            "art9_condition": source.art9_condition,
            "dpia_reference": source.dpia_reference,
            "crawl_rate": source.crawl_rate,
            "page_limit": source.page_limit,
            "max_depth": source.max_depth,
        }
        return cls(data, initial=initial)

    def changes(self) -> dict[str, Any]:
        """The cleaned values in ``source_update``'s terms."""
        data = dict(self.cleaned_data)
        data["scope"] = [line.strip() for line in data["scope"].splitlines() if line.strip()]
        data["jurisdictions"] = [c.strip() for c in data["jurisdictions"].split(",") if c.strip()]
        return data
