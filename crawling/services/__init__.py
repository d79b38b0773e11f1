"""Writes for crawling: sources and their approval, imports, crawl jobs and the pages they visit.

Callers import from here; the names below are the ones the rest of the project and the tests use.
"""

from __future__ import annotations

from crawling.services.imports import import_file_store, import_recorded, import_source_open
from crawling.services.jobs import (
    crawl_job_counts,
    crawl_job_create,
    crawl_job_run,
    crawl_job_set_status,
    crawl_jobs_requeue_stalled,
)
from crawling.services.pages import extract_opt_out
from crawling.services.sources import (
    SOURCE_APPROVED_FIELDS,
    CrawlRefused,
    crawl_gate,
    source_add,
    source_approve,
    source_check,
    source_suspend,
    source_update,
    source_update_check,
)

__all__ = [
    "SOURCE_APPROVED_FIELDS",
    "CrawlRefused",
    "crawl_gate",
    "crawl_job_counts",
    "crawl_job_create",
    "crawl_job_run",
    "crawl_job_set_status",
    "crawl_jobs_requeue_stalled",
    "extract_opt_out",
    "import_file_store",
    "import_recorded",
    "import_source_open",
    "source_add",
    "source_approve",
    "source_check",
    "source_suspend",
    "source_update",
    "source_update_check",
]
