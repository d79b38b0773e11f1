"""The DPO queue's line about the portal's guards (open abuse signals, withholding claims to decide)."""

from __future__ import annotations

from django import template

register = template.Library()


@register.inclusion_tag("subjects/_dpo_guards.html")
def dpo_guards() -> dict[str, int]:
    from search.models import SearchRequest
    from subjects.abuse import abuse_signal_open_count

    pending = SearchRequest.objects.filter(
        access_restriction=SearchRequest.AccessRestriction.PENDING
    ).count()
    return {"signals": abuse_signal_open_count(), "claims": pending}
