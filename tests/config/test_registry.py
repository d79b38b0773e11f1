"""Apps fill the registries from ready(): every data class has a sweeper, every figure a section."""

from __future__ import annotations

import pytest

from config import registry
from config.data_classes import DataClass
from config.figures import SECTIONS, SERIES


def test_every_data_class_has_a_registered_sweeper():
    """Input: the registry after start-up: search, subjects and compliance registered theirs."""
    assert sorted(registry.retention_sweepers) == sorted(DataClass.values)
    assert registry.retention_sweepers[DataClass.FACES].sweep.__module__ == "search.retention"
    assert registry.retention_sweepers[DataClass.ACCESS_PACKAGES].sweep.__module__ == (
        "subjects.retention"
    )
    assert registry.retention_sweepers[DataClass.AUDIT_EVENTS].sweep.__module__ == (
        "compliance.retention"
    )
    assert "images" in registry.jurisdiction_purgers
    assert "legal_holds" in registry.holds_providers


def test_a_name_registers_once():
    """Input: a second sweeper for faces: refused, the first one stays."""
    first = registry.retention_sweepers[DataClass.FACES]
    with pytest.raises(ValueError, match="already registered"):
        registry.retention_sweeper_register(DataClass.FACES, sweep=print, backlog=len)
    assert registry.retention_sweepers[DataClass.FACES] is first


def test_missing_holds_provider_is_an_error_not_an_empty_hold_list():
    """Input: a registry with no holds provider: asking what is held raises (never "nothing")."""
    empty: registry.Registry[object] = registry.Registry("holds provider")
    with pytest.raises(LookupError, match="legal_holds"):
        empty["legal_holds"]


@pytest.mark.django_db
def test_active_holds_come_from_compliance(dpo):
    """Input: one organisation hold created through compliance: a lower app sees it via config."""
    from compliance.retention import legal_hold_create
    from tests.accounts import factories

    org = factories.organisation()
    legal_hold_create(scope="organisation", organisation=org, reason="Litigation", actor=dpo)
    assert registry.active_holds().organisation_ids == frozenset({org.pk})


def test_figures_are_registered_by_their_apps_in_known_sections():
    """Input: the figure registry after start-up: each app's figures, each in a declared section."""
    sections = {s.key for s in SECTIONS}
    assert {s.section for s in SERIES} <= sections
    modules = {s.query.__module__ for s in SERIES if hasattr(s.query, "__module__")}
    assert {"search.figures", "subjects.figures", "crawling.figures", "compliance.figures"} <= (
        modules
    )


def test_report_lists_figures_section_by_section():
    """Input: the report's order: sections in page order, whatever order the apps registered in."""
    from compliance.transparency import series_in_order

    order = [s.section for s in series_in_order()]
    positions = [[x.key for x in SECTIONS].index(section) for section in order]
    assert positions == sorted(positions)
