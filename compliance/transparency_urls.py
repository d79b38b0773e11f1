from django.urls import path

from compliance import transparency_views as views

app_name = "transparency"
urlpatterns = [
    path("", views.report, name="report"),
    path("log/checkpoint", views.log_checkpoint, name="log_checkpoint"),
    path("log/key", views.log_key, name="log_key"),
    path("log/consistency", views.log_consistency, name="log_consistency"),
    path("log/verify/", views.log_verify, name="log_verify"),
    path("<str:month>.csv", views.report_csv, name="csv"),
    path("<str:month>.json", views.report_json, name="json"),
]
