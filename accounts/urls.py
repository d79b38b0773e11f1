from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("members/", views.members, name="members"),
    path("members/<int:membership_id>/", views.member_detail, name="member_detail"),
    path("members/<int:membership_id>/remove/", views.member_remove, name="member_remove"),
    path(
        "invitations/<int:invitation_id>/revoke/", views.invitation_revoke, name="invitation_revoke"
    ),
    path("invitations/accept/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("api-token/", views.api_token, name="api_token"),
    path("api-token/<int:token_id>/revoke/", views.api_token_revoke, name="api_token_revoke"),
]
