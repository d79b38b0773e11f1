from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render

from accounts.http import AuthenticatedHttpRequest
from accounts.selectors import membership_for


@login_required
def index(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The customer's search page: for members of an organisation only."""
    membership = membership_for(user=request.user)
    if membership is None:
        raise Http404
    return render(request, "search/index.html", {"membership": membership})
