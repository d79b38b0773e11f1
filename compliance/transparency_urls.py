from django.urls import path

from compliance import transparency_views as views

app_name = "transparency"
urlpatterns = [
    path("", views.report, name="report"),
    path("<str:month>.csv", views.report_csv, name="csv"),
    path("<str:month>.json", views.report_json, name="json"),
]
