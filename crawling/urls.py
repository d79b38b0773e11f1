from django.urls import path

from crawling import views

app_name = "crawling"
urlpatterns = [
    path("", views.index, name="index"),
    path("<int:source_id>/edit/", views.source_edit, name="edit"),
    path("<int:source_id>/approve/", views.source_approve, name="approve"),
    path("<int:source_id>/suspend/", views.source_suspend, name="suspend"),
    path("<int:source_id>/crawl/", views.crawl_start, name="crawl"),
    path("jobs/<int:job_id>/", views.job_detail, name="job"),
    path("jobs/<int:job_id>/control/", views.job_control, name="job_control"),
]
