from __future__ import annotations

from typing import Any

from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.urls import include, path
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated

from accounts.views import favicon
from compliance.views import home
from config import health

# The admin logs in through allauth, so its MFA stage applies to admins too.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]
admin.site.site_header = "Face search administration"


def _docs_permissions() -> list[BasePermission]:
    return [AllowAny()] if settings.API_DOCS_PUBLIC else [IsAuthenticated()]


class SchemaView(SpectacularAPIView):
    """The OpenAPI schema: signed-in users (session or token) only, unless API_DOCS_PUBLIC."""

    def get_permissions(self) -> list[BasePermission]:
        return _docs_permissions()


class DocsView(SpectacularSwaggerSplitView):
    """Swagger UI: people who are not signed in go to the login page, unless API_DOCS_PUBLIC."""

    permission_classes = [AllowAny]  # get() decides: a person gets the login page, not a 403

    @extend_schema(exclude=True)
    def get(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.API_DOCS_PUBLIC and not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return super().get(request, *args, **kwargs)


urlpatterns = [
    path("", home, name="home"),
    # Liveness from the process (no I/O); readiness cached and rate-limited (config/health.py).
    path("healthz", health.live, name="healthz"),
    path("healthz/live", health.live, name="healthz-live"),
    path("healthz/ready", health.ready, name="healthz-ready"),
    # Browsers ask for /favicon.ico on their own; answer with the shipped icon.
    path("favicon.ico", favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("org/", include("accounts.urls")),
    path("search/", include("search.urls")),
    path("sources/", include("crawling.urls")),
    path("rights/", include("subjects.urls")),
    # The language switcher on public pages posts to Django's set_language view (i18n/setlang/).
    path("i18n/", include("django.conf.urls.i18n")),
    path("staff/", include("compliance.urls")),
    path("transparency/", include("compliance.transparency_urls")),
    path("api/v1/", include("search.api_urls")),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    path("api/docs/", DocsView.as_view(url_name="api-schema"), name="api-docs"),
]
