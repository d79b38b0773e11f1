from django.urls import path

from search import apis

urlpatterns = [
    path("searches/", apis.SearchCreateApi.as_view(), name="api-search-create"),
    path("searches/<int:search_id>/", apis.SearchDetailApi.as_view(), name="api-search-detail"),
    path("searches/<int:search_id>/choose/", apis.SearchChooseFaceApi.as_view(), name="api-search-choose"),
]
