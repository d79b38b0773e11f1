from django.urls import path

from search import views

app_name = "search"
urlpatterns = [
    path("", views.index, name="index"),
    path("<int:search_id>/", views.detail, name="detail"),
    path("<int:search_id>/status/", views.status, name="status"),
    path("<int:search_id>/choose/", views.choose_face, name="choose_face"),
    path(
        "<int:search_id>/access-restriction/",
        views.access_restriction_claim,
        name="access_restriction_claim",
    ),
    path("<int:search_id>/confirm-repeat/", views.confirm_repeat, name="confirm_repeat"),
    path("<int:search_id>/cancel-repeat/", views.cancel_repeat, name="cancel_repeat"),
    path(
        "<int:search_id>/probe-faces/<int:index>.jpg", views.probe_face_thumbnail, name="probe_face"
    ),
    path("<int:search_id>/faces/<int:face_id>.jpg", views.hit_thumbnail, name="hit_thumbnail"),
    path("monitoring/", views.monitoring_alerts, name="monitoring_alerts"),
    path("monitoring/<int:alert_id>/", views.monitoring_alert, name="monitoring_alert"),
    path(
        "monitoring/<int:alert_id>/close/",
        views.monitoring_alert_close,
        name="monitoring_alert_close",
    ),
]
