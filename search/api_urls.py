from django.http import HttpRequest, JsonResponse
from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt

from search import apis


@csrf_exempt  # it changes nothing; an API client sends no CSRF token
def api_not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    """Anything else under the API answers 404 in the API's error shape, never an HTML page."""
    return JsonResponse(
        {"error": {"code": "not_found", "message": "There is no such API endpoint."}}, status=404
    )


urlpatterns = [
    path("searches/", apis.SearchCreateApi.as_view(), name="api-search-create"),
    path("searches/<int:search_id>/", apis.SearchDetailApi.as_view(), name="api-search-detail"),
    path(
        "searches/<int:search_id>/choose/",
        apis.SearchChooseFaceApi.as_view(),
        name="api-search-choose",
    ),
    path(
        "searches/<int:search_id>/confirm-repeat/",
        apis.SearchRepeatConfirmApi.as_view(),
        name="api-search-confirm-repeat",
    ),
    path(
        "searches/<int:search_id>/cancel-repeat/",
        apis.SearchRepeatCancelApi.as_view(),
        name="api-search-cancel-repeat",
    ),
    path(
        "searches/<int:search_id>/access-restriction/",
        apis.SearchAccessRestrictionClaimApi.as_view(),
        name="api-search-access-restriction",
    ),
    path(
        "searches/<int:search_id>/hits/<int:face_id>/crop/",
        apis.SearchHitCropApi.as_view(),
        name="api-search-hit-crop",
    ),
    path(
        "searches/<int:search_id>/faces/<int:index>/thumbnail/",
        apis.SearchFaceThumbnailApi.as_view(),
        name="api-search-face-thumbnail",
    ),
    re_path(r"^(?P<rest>[\s\S]*)$", api_not_found),  # [\s\S]: a newline in the path too
]
