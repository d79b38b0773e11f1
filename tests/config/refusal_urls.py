"""A URLconf for tests/config/test_refusals.py: a page whose view lets a refusal through."""

from __future__ import annotations

from django.urls import path

from config.errors import ApplicationError
from config.urls import urlpatterns as project_urlpatterns


def refusing_view(request):
    raise ApplicationError("This request was already answered.", code="answered", status=409)


# The project's own URLs too: the page's layout links to them.
urlpatterns = [path("refuse/", refusing_view), *project_urlpatterns]
