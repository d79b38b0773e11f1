"""The report's opt-out figures count what a real crawl of the local test site skipped, per signal."""

from __future__ import annotations

import pytest
from django.utils import timezone

from compliance import transparency as t
from crawling import services
from crawling.figures import OPT_OUT_SIGNALS
from tests.crawling.site import serve
from tests.crawling.test_crawl import add_source, run_to_end

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _run_in_process(monkeypatch):
    """This test drives crawl_job_run itself: no worker may race it for the job."""
    from crawling import tasks

    monkeypatch.setattr(tasks.crawl_job_run, "delay", lambda *args, **kwargs: None)


def test_opt_out_figures_match_what_the_crawler_skipped(dpo, settings) -> None:
    """Bad input: pages behind robots.txt, images under noimageindex (meta tag and header), TDM reservations."""
    settings.TRANSPARENCY_OPEN_MONTH = True
    with serve() as site:
        source = add_source(site, approve_as=dpo)
        job = services.crawl_job_create(source=source)
        run_to_end(job)
    job.refresh_from_db()
    raw = t.raw_figures(t.Period.of(timezone.localdate()))
    by_signal = {
        signal: raw[f"optout.{signal}.page"] + raw[f"optout.{signal}.image"]
        for signal in OPT_OUT_SIGNALS
    }  # type: ignore[operator]
    assert by_signal == {
        "robots": job.skipped["robots_disallow"],
        "noimageindex": job.skipped["meta_robots_opt_out"] + job.skipped["x_robots_tag_opt_out"],
        "tdm": job.skipped["tdm_reservation"],
    }
    assert by_signal == {"robots": 1, "noimageindex": 3, "tdm": 2}
    assert raw["optout.noimageindex.image"] == 3, "noimageindex skips images, never pages"
    published = t.report_for(month=timezone.localdate()).by_key()
    assert {
        published[f"optout.{s}.{k}"].shown for s in OPT_OUT_SIGNALS for k in ("page", "image")
    } <= {"0", "< 5"}
    assert published["sources.approved"].shown == "1", "our own decisions are published exactly"
