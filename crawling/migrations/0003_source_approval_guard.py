"""An approved source's approved fields cannot change while it stays approved.

``crawling.services.source_update`` sends a changed source back for approval in the same UPDATE
(status proposed, approval cleared). Any other path (``QuerySet.update``, ``Model.save`` from a
shell, a raw UPDATE) that changes what the DPO approved and leaves the row approved is refused here.
"""

from django.db import migrations

FIELDS = ["name", "kind", "scope", "jurisdictions", "lawful_basis", "art9_condition", "dpia_reference", "crawl_rate",
          "page_limit", "max_depth"]

CHANGED = " OR ".join(f"NEW.{f} IS DISTINCT FROM OLD.{f}" for f in FIELDS)

FORWARD = f"""
CREATE OR REPLACE FUNCTION crawling_source_approval_guard() RETURNS trigger AS $$
BEGIN
    IF OLD.status = 'approved' AND NEW.status = 'approved' AND ({CHANGED}) THEN
        RAISE EXCEPTION 'crawling_source_approval_guard: source % was approved by the DPO; a change to what was approved '
                        'goes through crawling.services.source_update, which sends it back for approval', OLD.id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER crawling_source_approval_guard
    BEFORE UPDATE ON crawling_source
    FOR EACH ROW EXECUTE FUNCTION crawling_source_approval_guard();
"""

REVERSE = """
DROP TRIGGER IF EXISTS crawling_source_approval_guard ON crawling_source;
DROP FUNCTION IF EXISTS crawling_source_approval_guard();
"""


class Migration(migrations.Migration):
    dependencies = [("crawling", "0002_source_kind")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
