from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from subjects.models import ProofMethod, RequestType


class SubjectRequestForm(forms.Form):
    email = forms.EmailField(
        label=gettext_lazy("Your email address"),
        help_text=gettext_lazy("We send a confirmation link here. No account, no ID document."),
        max_length=254,  # the column's length (RFC 5321 path limit); Django's default 320 would reach the database
        error_messages={"max_length": gettext_lazy("An email address has at most 254 characters.")},
    )
    details = forms.CharField(
        label=gettext_lazy("Anything that helps us"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    urls = forms.CharField(
        label=gettext_lazy("Web pages or image addresses showing you (optional, one per line)"),
        required=False,
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    selfie = forms.FileField(
        label=gettext_lazy("A photo of your face (optional)"),
        required=False,
        help_text=gettext_lazy("Used only to find your photos, in memory; it is never stored."),
    )
    # Honeypot: hidden from people, filled by bots.
    website = forms.CharField(
        required=False,
        label=gettext_lazy("Leave this empty"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def __init__(self, *args: object, request_type: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.request_type = request_type
        if request_type == RequestType.RECTIFICATION:
            self.fields["correction"] = forms.CharField(
                label=gettext_lazy("What is wrong, and what should it say?"),
                max_length=2000,
                widget=forms.Textarea(attrs={"rows": 3}),
            )
        if request_type == RequestType.OBJECTION:
            self.fields["consent_keep_template"] = forms.BooleanField(
                label=gettext_lazy(
                    "Keep a template of my face so you never collect new photos of me (optional)"
                ),
                required=False,
                help_text=gettext_lazy(
                    "Without this we keep only scrambled (hashed) addresses of the pages and images."
                ),
            )
        if request_type == RequestType.COMPLAINT:
            self.fields["details"].required = True
            self.fields["details"].label = gettext_lazy("Your complaint")

    def clean_selfie(self) -> object:
        selfie = self.cleaned_data.get("selfie")
        limit = settings.SUBJECT_SELFIE_MAX_BYTES
        if selfie and (getattr(selfie, "too_large", False) or selfie.size > limit):
            raise forms.ValidationError(
                _("The photo is %(size)s MB; the limit is %(limit)s MB. Choose a smaller photo.")
                % {"size": formats.localize(round(selfie.size / 2**20, 1)), "limit": limit // 2**20}
            )
        return selfie

    def url_list(self) -> list[str]:
        return [
            line.strip() for line in self.cleaned_data.get("urls", "").splitlines() if line.strip()
        ]


class ClarificationAnswerForm(forms.Form):
    """The requester's answer to the DPO's question, on their status page."""

    answer = forms.CharField(
        label=gettext_lazy("Your answer"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    urls = forms.CharField(
        label=gettext_lazy("Web pages or image addresses showing you (optional, one per line)"),
        required=False,
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    selfie = forms.FileField(
        label=gettext_lazy("Another photo of your face (optional)"),
        required=False,
        help_text=gettext_lazy("Used only to find your photos, in memory; it is never stored."),
    )

    def url_list(self) -> list[str]:
        return [
            line.strip() for line in self.cleaned_data.get("urls", "").splitlines() if line.strip()
        ]


class ReasonForm(forms.Form):
    """A reason that is sent to the requester (or recorded for them). Use a prefix per action so ids stay unique."""

    reason = forms.CharField(
        label="Reason (sent to the requester)",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ExtendForm(ReasonForm):
    months = forms.TypedChoiceField(
        label="Extend by", choices=[(1, "one month"), (2, "two months")], coerce=int
    )


class IdentityProofForm(forms.Form):
    """The DPO records how the requester was shown to be the person (or not), by a method other than the live
    capture (the capture flow records its own). Staff-only, in English like the rest of the DPO's pages."""

    method = forms.ChoiceField(
        label="Method",
        choices=[
            (value, label)
            for value, label in ProofMethod.choices
            if value != ProofMethod.LIVE_CAPTURE
        ],
        widget=forms.RadioSelect,
    )
    decision = forms.ChoiceField(
        label="Decision",
        choices=[
            ("accepted", "Accepted: the requester is the person"),
            ("refused", "Refused: not shown to be the person"),
        ],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label="Note: what you checked",
        help_text="Never write a document's number or keep a copy of it: note only that it was seen and matched.",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
