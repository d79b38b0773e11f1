"""Imports: a file of photos recorded against an import source, as a crawl would record them."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from audit.services import audit_record
from crawling.models import Source
from crawling.services.sources import CrawlRefused, crawl_gate
from search.services import source_image_store


def import_source_open(*, name: str, actor: Any = None) -> Source:
    """The approved local source an import goes into: the same lawfulness gate as a crawl.

    A refusal is audited (and committed) and raised as CrawlRefused with what to do next.
    """
    approve = "a data-protection officer approves it at /sources/ or with `manage.py source_approve --name NAME --as DPO_EMAIL`"
    how = (
        "Register it with `manage.py source_add --local --name NAME --jurisdiction CC --lawful-basis B --art9 C "
        f"--dpia REF` (add --approve-as DPO_EMAIL to approve it at once); otherwise {approve}."
    )
    with transaction.atomic():
        source = Source.objects.select_for_update().filter(name=name.strip()).first()
        if source is None:
            reason = f"No source named {name!r}. {how}"
        else:
            try:
                crawl_gate(source)
            except CrawlRefused as exc:
                reason = (
                    f"{exc.reason} To import into it, {approve}."
                    if source.status == Source.Status.PROPOSED
                    else exc.reason
                )
            else:
                reason = (
                    ""
                    if source.kind == Source.Kind.LOCAL
                    else (
                        f"{source.name!r} is a web source (crawled, not imported). Import into a local source. {how}"
                    )
                )
        if reason:
            audit_record(
                actor=actor,
                action="crawling.import.refused",
                target=source,
                outcome="refused",
                details={"source": name, "reason": reason},
            )
    if reason or source is None:
        raise CrawlRefused(reason)
    return source


def import_file_store(*, source: Source, data: bytes, original_name: str, actor: Any = None) -> Any:
    """Store one imported photo into ``source`` (its own file name only, never a server path)."""

    return source_image_store(
        data=data,
        source_label=source.name,
        source=source,
        original_name=original_name.replace("\\", "/").split("/")[-1],
        jurisdiction=(source.jurisdictions or [""])[0],
        actor=actor,
    )


def import_recorded(*, source: Source, summary: dict[str, Any], actor: Any = None) -> None:
    """The import's counts, on the audit log with the source (no file names or paths)."""
    audit_record(
        actor=actor,
        action="crawling.import.completed",
        target=source,
        outcome="success",
        details=summary,
    )
