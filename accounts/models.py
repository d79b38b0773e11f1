"""Users (email login), customer organisations, memberships with roles, invitations."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        if not extra["is_staff"] or not extra["is_superuser"]:
            raise ValueError("A superuser must have is_staff and is_superuser.")
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person who logs in: customer staff or our own staff. Email is the login."""

    username = None  # type: ignore[assignment]
    first_name = None  # type: ignore[assignment]
    last_name = None  # type: ignore[assignment]
    email = models.EmailField("email address", unique=True)
    name = models.CharField(max_length=150, blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []  # type: ignore[misc]

    objects = UserManager()  # type: ignore[assignment,misc]

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique")
        ]

    def __str__(self) -> str:
        return self.email

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Every way of changing a password ends here (allauth's change, reset and set-password
        # links, Django admin, ``manage.py changepassword``): ``_password`` holds the new raw
        # password until the save. A hash upgrade at login clears it first, so it revokes nothing.
        # The one place all those paths meet, so the API tokens are revoked here, in the same transaction.
        from django.db import transaction

        password_changed = getattr(self, "_password", None) is not None and self.pk is not None
        with transaction.atomic():
            super().save(*args, **kwargs)
            if password_changed:
                from accounts.services import api_tokens_revoke_on_change

                api_tokens_revoke_on_change(user=self, reason="password_changed", actor=None)


class Organisation(models.Model):
    """A customer organisation. Searches, results and usage belong to one."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    is_active = models.BooleanField(default=True)
    monthly_search_quota = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Searches allowed per calendar month; empty uses the site default.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    ANALYST = "analyst", "Analyst"
    ORG_ADMIN = "org_admin", "Organisation admin"


class Membership(models.Model):
    """A user's place in one organisation. One organisation per user keeps scoping unambiguous."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="membership")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.ANALYST)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["organisation", "user__email"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="accounts_membership_role_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organisation} ({self.get_role_display()})"

    @property
    def is_org_admin(self) -> bool:
        return self.role == Role.ORG_ADMIN


class Invitation(models.Model):
    """An org admin's invitation. Signup is only open to holders of a valid invitation link."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.ANALYST)
    # Only a SHA-256 of the link's secret is stored: a database read does not yield working links.
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                "organisation",
                condition=models.Q(status="pending"),
                name="accounts_invitation_one_pending_per_email",
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="accounts_invitation_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Invitation for {self.email} to {self.organisation}"

    @property
    def is_usable(self) -> bool:
        """Pending, unexpired, and for an organisation that is still active (every accept path asks this)."""
        return (
            self.status == self.Status.PENDING
            and self.expires_at > timezone.now()
            and self.organisation.is_active
        )


class ApiToken(models.Model):
    """One of a user's named API tokens. Only a SHA-256 of the key is stored: the key is shown once.

    The key is 256 random bits, so an unsalted SHA-256 cannot be reversed or guessed; a database
    read (or a backup) yields no working token. A user may hold several (one per integration), each
    with a name and an expiry (``API_TOKEN_VALID_DAYS`` unless chosen, at most
    ``API_TOKEN_MAX_VALID_DAYS``). Revoking deletes the row (the audit log keeps the event); every
    token is revoked when the holder's password or access changes. ``last_used_at`` is refreshed at
    most once a minute per token, not on every request.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, default="API token")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "token"  # "Tokens" in Django admin, as DRF's list was called
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(name=""), name="accounts_apitoken_name_not_blank"
            ),
        ]

    def __str__(self) -> str:
        return f"API token {self.name!r} of {self.user} (expires {self.expires_at:%Y-%m-%d})"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()


class StaffPermissions(models.Model):
    """Holder of the staff permissions that belong to no single model (no table)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("dpo_access", "Use the data-protection officer's pages"),
            ("auditor_access", "Use the auditor's read-only pages"),
            ("work_subject_requests", "Work data-subject requests"),
            ("approve_sources", "Approve and suspend crawl sources"),
            ("manage_retention", "Set retention policies and legal holds"),
            ("run_jurisdiction_sweeps", "Run jurisdiction sweeps"),
            ("view_audit_log", "Read the audit log and verify its chain"),
            ("export_audit_log", "Export the audit log"),
            ("view_reports", "Read compliance reports and the Art 30 record"),
        ]

    def __str__(self) -> str:
        return "staff permissions"
