from django.urls import path

from compliance import views

app_name = "compliance"
urlpatterns = [
    path("", views.staff_home, name="staff_home"),
    path("audit/", views.audit_log, name="audit_log"),
    path("audit/export/", views.audit_export, name="audit_export"),
    path("audit/verify/", views.audit_verify, name="audit_verify"),
]
