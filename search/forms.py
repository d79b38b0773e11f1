from __future__ import annotations

from django import forms

from search.models import AccessRestrictionBasis, LawfulBasis


class SearchForm(forms.Form):
    image = forms.FileField(
        label="Photo",
        help_text="JPEG, PNG or WebP, up to 20 MB. It is deleted as soon as the face is read.",
    )
    purpose = forms.CharField(
        label="Purpose",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why you are searching, in a sentence.",
    )
    lawful_basis = forms.ChoiceField(
        label="Lawful basis", choices=[("", "Choose…"), *LawfulBasis.choices]
    )
    case_reference = forms.CharField(label="Case reference", max_length=100)


class ChooseFaceForm(forms.Form):
    face = forms.IntegerField(min_value=0, max_value=100)


class RepeatConfirmForm(forms.Form):
    case_reference = forms.CharField(
        label="Case reference for this search",
        max_length=100,
        help_text="The case this repeat search belongs to. It is recorded with your confirmation.",
    )
    confirm = forms.BooleanField(
        label="I confirm this search is needed for this case, not to follow the person.",
        error_messages={"required": "Tick the box to confirm this repeat search."},
    )


class AlertCloseForm(forms.Form):
    note = forms.CharField(
        label="Closing note",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What you checked and found, and why the alert can close. It is kept in the audit log.",
    )


class AccessRestrictionForm(forms.Form):
    """Claim a restriction of the right of access (Art 23) for one search; the DPO decides (search.withholding)."""

    basis = forms.ChoiceField(
        label="Legal basis of the restriction", choices=AccessRestrictionBasis.choices
    )
    reference = forms.CharField(
        label="Reference",
        max_length=200,
        help_text='The law and your case or decision reference, e.g. "UK DPA 2018 Sch 2 para 2, case 123".',
    )
