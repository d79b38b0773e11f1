from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@permission_required("accounts.approve_sources", raise_exception=True)
def index(request: HttpRequest) -> HttpResponse:
    """Crawl sources awaiting the DPO's review."""
    return render(request, "crawling/index.html")
