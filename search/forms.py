from __future__ import annotations

from django import forms

from search.models import LawfulBasis


class SearchForm(forms.Form):
    image = forms.FileField(label="Photo", help_text="JPEG, PNG or WebP, up to 20 MB. It is deleted as soon as the face is read.")
    purpose = forms.CharField(
        label="Purpose",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why you are searching, in a sentence.",
    )
    lawful_basis = forms.ChoiceField(label="Lawful basis", choices=[("", "Choose…"), *LawfulBasis.choices])
    case_reference = forms.CharField(label="Case reference", max_length=100)


class ChooseFaceForm(forms.Form):
    face = forms.IntegerField(min_value=0, max_value=100)
