from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def notice(request: HttpRequest) -> HttpResponse:
    """The public transparency notice and the way to exercise one's rights (no account)."""
    return render(request, "subjects/notice.html", {"dpo_email": settings.DPO_EMAIL})
