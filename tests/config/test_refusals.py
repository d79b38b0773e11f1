"""One place each for a refusal: the API answers its code, message and status; the web its page."""

from __future__ import annotations

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from config.errors import ApplicationError
from config.refusals import ApplicationErrorMiddleware, refusal_response


class SlotTaken(ApplicationError):
    default_code = "slot_taken"
    default_status = 409


class RefusingApi(APIView):
    authentication_classes: list = []
    permission_classes: list = []

    def post(self, request):
        raise SlotTaken("This slot was taken a moment ago.", extra={"retry": False})


class PlainApi(APIView):
    authentication_classes: list = []
    permission_classes: list = []

    def post(self, request):
        return Response({"ok": True})


def test_api_answers_a_refusal_with_its_code_message_and_status():
    """Input: an API view that raises a 409 refusal with an extra field, and does not catch it."""
    response = RefusingApi.as_view()(APIRequestFactory().post("/api/v1/x/"))
    assert response.status_code == 409
    assert response.data == {
        "error": {
            "code": "slot_taken",
            "message": "This slot was taken a moment ago.",
            "retry": False,
        }
    }


def test_api_refusal_status_given_at_the_raise_wins():
    """Input: a plain ApplicationError raised with status 429 and its own code."""

    class Limited(APIView):
        authentication_classes: list = []
        permission_classes: list = []

        def post(self, request):
            raise ApplicationError("Too many today.", code="limit_exceeded", status=429)

    response = Limited.as_view()(APIRequestFactory().post("/api/v1/x/"))
    assert response.status_code == 429
    assert response.data["error"] == {"code": "limit_exceeded", "message": "Too many today."}


def test_api_other_errors_keep_their_shape():
    """Input: a GET on a POST-only view (DRF's 405): the documented body, not the refusal path."""
    response = PlainApi.as_view()(APIRequestFactory().get("/api/v1/x/"))
    assert response.status_code == 405
    assert response.data["error"]["code"] == "method_not_allowed"


def test_old_import_path_is_the_same_handler():
    from accounts.api_auth import api_exception_handler as old
    from config.api_errors import api_exception_handler as new

    assert old is new


def _middleware() -> ApplicationErrorMiddleware:
    return ApplicationErrorMiddleware(lambda request: HttpResponse("view ran"))


def test_web_middleware_renders_the_refusal_with_its_status(db):
    """Input: a refusal a view let through on a public page: its message on the page, its status."""
    request = RequestFactory().get("/rights/")
    response = _middleware().process_exception(request, SlotTaken("This slot was taken."))
    assert response is not None
    assert response.status_code == 409
    page = response.content.decode()
    assert "This slot was taken." in page
    assert 'data-code="slot_taken"' in page


def test_web_middleware_leaves_other_exceptions_alone():
    """Input: a ValueError: not a refusal, so Django's own handling (a 500) applies."""
    request = RequestFactory().get("/")
    assert _middleware().process_exception(request, ValueError("bug")) is None


def test_refusal_response_uses_the_given_template_and_context(db):
    """Input: a view showing the refusal on its own template with extra context."""
    request = RequestFactory().get("/")
    response = refusal_response(
        request, ApplicationError("No."), template="403.html", context={"extra": 1}
    )
    assert response.status_code == 400
    assert "No." in response.content.decode()


def test_middleware_is_installed_last():
    from django.conf import settings

    assert settings.MIDDLEWARE[-1] == "config.refusals.ApplicationErrorMiddleware"


@pytest.mark.urls("tests.config.refusal_urls")
def test_full_stack_refusal_is_a_page_not_a_500(client, db):
    """Input: a GET through every installed middleware to a view that raises and does not catch."""
    response = client.get("/refuse/")
    assert response.status_code == 409
    assert "This request was already answered." in response.content.decode()
