from django.urls import path

from compliance import governance_views as gov
from compliance import views

app_name = "compliance"
urlpatterns = [
    path("", views.staff_home, name="staff_home"),
    path("audit/", views.audit_log, name="audit_log"),
    path("audit/export/", views.audit_export, name="audit_export"),
    path("audit/verify/", views.audit_verify, name="audit_verify"),
    path("retention/", gov.retention_policies, name="retention"),
    path("retention/<int:policy_id>/", gov.retention_policy_edit, name="retention_edit"),
    path("retention/sweep/", gov.retention_sweep_now, name="sweep_now"),
    path("receipts/", gov.receipts, name="receipts"),
    path("legal-holds/", gov.legal_holds, name="legal_holds"),
    path("legal-holds/<int:hold_id>/release/", gov.legal_hold_release, name="legal_hold_release"),
    path("records/", gov.records_of_processing, name="art30"),
    path("dashboard/", gov.dashboard, name="dashboard"),
]
