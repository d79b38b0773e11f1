from django.urls import path

from subjects import capture_views, dpo_views, views, withholding_views

app_name = "subjects"
urlpatterns = [
    path("", views.notice, name="notice"),
    path("request/<slug:kind>/", views.request_form, name="request"),
    path("submitted/", views.submitted, name="submitted"),
    # Token-free pages: the secret is in a cookie set by the emailed link's page (subjects/views.py, "Secret links").
    path("verify/", views.verify, name="verify_page"),
    path("requests/<str:reference>/", views.status, name="status_page"),
    path("requests/<str:reference>/withdraw/", views.withdraw, name="withdraw_page"),
    path("requests/<str:reference>/answer/", views.answer, name="answer_page"),
    # The live camera capture (subjects/capture_views.py): under the status page's path, so its cookie is sent.
    path("requests/<str:reference>/capture/", capture_views.capture_page, name="capture_page"),
    path(
        "requests/<str:reference>/capture/send/",
        capture_views.capture_submit,
        name="capture_submit",
    ),
    path("package/", views.package, name="package_page"),
    # The emailed links (and pages left open before the secret moved to a cookie).
    path("verify/<str:token>/", views.verify, name="verify"),
    path("requests/<str:reference>/<str:token>/", views.status, name="status"),
    path("requests/<str:reference>/<str:token>/withdraw/", views.withdraw, name="withdraw"),
    path("requests/<str:reference>/<str:token>/answer/", views.answer, name="answer"),
    path("package/<str:token>/", views.package, name="package"),
    path("dpo/", dpo_views.queue, name="queue"),
    path("dpo/withholdings/", withholding_views.withholdings, name="withholdings"),
    path(
        "dpo/withholdings/<int:search_id>/decide/",
        withholding_views.withholding_decide,
        name="withholding_decide",
    ),
    path("dpo/signals/", withholding_views.abuse_signals, name="abuse_signals"),
    path("dpo/signals/<int:signal_id>/", withholding_views.abuse_signal, name="abuse_signal"),
    path("dpo/<str:reference>/", dpo_views.detail, name="detail"),
    path(
        "dpo/<str:reference>/candidates/<int:candidate_id>.jpg",
        dpo_views.candidate_thumbnail,
        name="candidate_thumbnail",
    ),
    path(
        "dpo/<str:reference>/captures/<int:capture_id>/<int:number>.jpg",
        capture_views.capture_frame,
        name="capture_frame",
    ),
    path(
        "dpo/<str:reference>/captures/<int:capture_id>/decide/",
        capture_views.capture_decide,
        name="capture_decide",
    ),
]
