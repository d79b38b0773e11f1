"""The transparency report's figures about searches (registered from SearchConfig.ready())."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db.models import Count
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from accounts.models import Organisation
from config.figures import Period, Series, in_period, register
from search.models import LawfulBasis, MonitoringAlert, SearchRequest


def _searches(period: Period) -> Any:
    return SearchRequest.objects.filter(in_period(period, "created_at"))


def _basis_count(period: Period, *, basis: str) -> int:
    return int(_searches(period).filter(lawful_basis=basis).count())


def _customer_count(period: Period) -> int:
    return Organisation.objects.filter(created_at__lt=period.as_of, is_active=True).count()


def figures_register() -> None:
    """Searches by lawful basis, the organisations that searched, customers, monitoring alerts."""
    register(
        Series(
            "searches.total",
            "searches",
            _("Searches"),
            lambda p: _searches(p).count(),
            group="basis",
            total=True,
        )
    )
    for (
        basis,
        label,
    ) in LawfulBasis.choices:  # the labels are translated through config.public_labels
        register(
            Series(
                f"searches.basis.{basis}",
                "searches",
                format_lazy(_("Searches under {basis}"), basis=_(label)),
                partial(_basis_count, basis=basis),
                group="basis",
            )
        )
    register(
        Series(
            "searches.organisations",
            "searches",
            _("Organisations that searched"),
            lambda p: _searches(p).aggregate(n=Count("organisation", distinct=True))["n"],
        )
    )
    register(
        Series(
            "organisations.customers",
            "searches",
            _("Customer organisations with an account"),
            lambda p: _customer_count(p),
        )
    )
    register(
        Series(
            "monitoring.alerts",
            "searches",
            _("Monitoring alerts raised"),
            lambda p: MonitoringAlert.objects.filter(in_period(p, "created_at")).count(),
        )
    )
