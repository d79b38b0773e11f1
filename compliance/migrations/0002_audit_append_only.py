"""The audit log is append-only: a trigger refuses UPDATE and DELETE of any row.

The one exception is ``compliance_audit_redact(seq, details)``, which may replace a row's
``details`` (and set ``redacted_at``) and nothing else; the row hash covers a digest of the
details, so the chain still verifies. TRUNCATE is left to the table owner (the test runner
flushes with it); a truncated log fails verification against the anchors kept outside the
database.
"""

from django.db import migrations

SQL = """
CREATE OR REPLACE FUNCTION compliance_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND current_setting('compliance.audit_redaction', true) = 'on'
       AND NEW.seq = OLD.seq AND NEW.created_at = OLD.created_at
       AND NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id AND NEW.actor_label = OLD.actor_label
       AND NEW.actor_role = OLD.actor_role AND NEW.action = OLD.action
       AND NEW.target_type = OLD.target_type AND NEW.target_id = OLD.target_id
       AND NEW.organisation_id IS NOT DISTINCT FROM OLD.organisation_id
       AND NEW.outcome = OLD.outcome AND NEW.ip IS NOT DISTINCT FROM OLD.ip
       AND NEW.details_digest = OLD.details_digest
       AND NEW.prev_hash = OLD.prev_hash AND NEW.row_hash = OLD.row_hash
       AND OLD.redacted_at IS NULL AND NEW.redacted_at IS NOT NULL THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'compliance_auditevent is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER compliance_auditevent_no_update_delete
    BEFORE UPDATE OR DELETE ON compliance_auditevent
    FOR EACH ROW EXECUTE FUNCTION compliance_auditevent_append_only();

CREATE OR REPLACE FUNCTION compliance_audit_redact(p_seq bigint, p_details jsonb) RETURNS void AS $$
BEGIN
    PERFORM set_config('compliance.audit_redaction', 'on', true);
    UPDATE compliance_auditevent SET details = p_details, redacted_at = now()
        WHERE seq = p_seq AND redacted_at IS NULL;
    PERFORM set_config('compliance.audit_redaction', 'off', true);
END;
$$ LANGUAGE plpgsql;
"""

REVERSE = """
DROP FUNCTION IF EXISTS compliance_audit_redact(bigint, jsonb);
DROP TRIGGER IF EXISTS compliance_auditevent_no_update_delete ON compliance_auditevent;
DROP FUNCTION IF EXISTS compliance_auditevent_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("compliance", "0001_initial")]
    operations = [migrations.RunSQL(SQL, REVERSE)]
