from django.urls import path

from subjects import views

app_name = "subjects"
urlpatterns = [
    path("", views.notice, name="notice"),
    path("request/<slug:kind>/", views.request_form, name="request"),
    path("submitted/", views.submitted, name="submitted"),
    path("verify/<str:token>/", views.verify, name="verify"),
    path("requests/<str:reference>/<str:token>/", views.status, name="status"),
    path("requests/<str:reference>/<str:token>/withdraw/", views.withdraw, name="withdraw"),
    path("requests/<str:reference>/<str:token>/answer/", views.answer, name="answer"),
    path("package/<str:token>/", views.package, name="package"),
    path("dpo/", views.queue, name="queue"),
    path("dpo/<str:reference>/", views.detail, name="detail"),
    path("dpo/<str:reference>/candidates/<int:candidate_id>.jpg", views.candidate_thumbnail, name="candidate_thumbnail"),
]
