from django.urls import path

from search import apis

urlpatterns = [
    path("searches/", apis.SearchCreateApi.as_view(), name="api-search-create"),
    path("searches/<int:search_id>/", apis.SearchDetailApi.as_view(), name="api-search-detail"),
    path("searches/<int:search_id>/choose/", apis.SearchChooseFaceApi.as_view(), name="api-search-choose"),
    path("searches/<int:search_id>/hits/<int:face_id>/crop/", apis.SearchHitCropApi.as_view(), name="api-search-hit-crop"),
    path(
        "searches/<int:search_id>/faces/<int:index>/thumbnail/",
        apis.SearchFaceThumbnailApi.as_view(),
        name="api-search-face-thumbnail",
    ),
]
