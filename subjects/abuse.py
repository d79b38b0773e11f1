"""Abuse signals on the rights portal (issue 22 item 5): patterns that suggest someone is using data-subject
requests to find another person. The DPO is alerted with the evidence, never with a face.

Four signals, each with a threshold in the settings:

- ``shared_face``: one indexed face is located by requests from ABUSE_SHARED_FACE_ADDRESSES (default 2) or more
  distinct normalised addresses (the candidates of different requests point at the same face ids);
- ``many_faces``: one normalised address filed requests that located ABUSE_FACES_PER_ADDRESS (default 3) or more
  distinct face sets (sets that share no face);
- ``address_variants``: one normalised address was written in two or more forms (``victim+1@``, ``Victim@``,
  ``v.ictim@gmail.com``);
- ``capture_failures``: a request failed the live checks ABUSE_CAPTURE_FAILURES (default 3) or more times (audit
  events ``subjects.capture.failed`` that target it, written by the capture flow).

Only requests received within ABUSE_WINDOW_DAYS are compared. The evidence holds request references, keyed
pseudonyms of addresses (compliance.services.subject_pseudonym) and counts: no crop, no embedding, no face id,
no address in clear. One open signal per (kind, key); a later match updates its evidence. Raising, updating and
closing a signal are audited in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone

from audit.services import audit_record, subject_pseudonym
from outbox.services import email_enqueue
from subjects.models import AbuseSignal, Candidate, SubjectRequest

K = AbuseSignal.Kind
CAPTURE_FAILED = "subjects.capture.failed"
_GMAIL = {"gmail.com", "googlemail.com"}


def email_normalise(email: str) -> str:
    """One form per mailbox, for the rate limits and the signals: lower-case, without a ``+tag``; for
    gmail.com and googlemail.com also without dots in the local part (and on gmail.com)."""
    email = (email or "").strip().lower()
    local, at, domain = email.rpartition("@")
    if not at:
        return email
    local = local.split("+", 1)[0]
    if domain in _GMAIL:
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"


def _recent() -> QuerySet[SubjectRequest]:
    return SubjectRequest.objects.filter(
        received_at__gte=timezone.now() - timedelta(days=settings.ABUSE_WINDOW_DAYS)
    )


def _same_address(request: SubjectRequest) -> list[SubjectRequest]:
    """Recent requests whose address normalises to this request's (this one included)."""
    normal = email_normalise(request.email)
    domain = normal.rpartition("@")[2]
    domains = _GMAIL if domain == "gmail.com" else {domain}
    rows = _recent().filter(
        email__iregex=r"@(" + "|".join(d.replace(".", r"\.") for d in domains) + r")$"
    )
    found = [r for r in rows.order_by("received_at") if email_normalise(r.email) == normal]
    return found if any(r.pk == request.pk for r in found) else [*found, request]


def _faces(request_ids: Iterable[int]) -> dict[int, set[int]]:
    """Each request's located faces (candidates the DPO has not rejected)."""
    faces: dict[int, set[int]] = {}
    rows = Candidate.objects.filter(request_id__in=list(request_ids)).exclude(
        status=Candidate.Status.REJECTED
    )
    for request_id, face_ref in rows.values_list("request_id", "face_ref"):
        faces.setdefault(request_id, set()).add(face_ref)
    return faces


def _refs(requests: Iterable[SubjectRequest]) -> list[str]:
    return sorted({r.reference for r in requests})


def abuse_check(*, request: SubjectRequest) -> list[AbuseSignal]:
    """Evaluate the address and face signals around ``request`` (called when it is verified and when its candidates
    are located). Returns the signals raised or updated."""
    same = _same_address(request)
    raised = [_shared_face(request), _many_faces(request, same), _address_variants(request, same)]
    return [s for s in raised if s is not None]


def _shared_face(request: SubjectRequest) -> AbuseSignal | None:
    mine = _faces([request.pk]).get(request.pk, set())
    if not mine:
        return None
    others = (
        Candidate.objects.filter(face_ref__in=mine, request__in=_recent())
        .exclude(status=Candidate.Status.REJECTED)
        .exclude(request=request)
        .values_list("face_ref", "request_id")
    )
    by_face: dict[int, set[int]] = {}
    for face_ref, request_id in others:
        by_face.setdefault(face_ref, {request.pk}).add(request_id)
    involved_ids = {rid for ids in by_face.values() for rid in ids}
    requests = {r.pk: r for r in SubjectRequest.objects.filter(pk__in=involved_ids)}
    shared = {
        face: ids
        for face, ids in by_face.items()
        if len({email_normalise(requests[i].email) for i in ids})
        >= settings.ABUSE_SHARED_FACE_ADDRESSES
    }
    if not shared:
        return None
    ids = {rid for rids in shared.values() for rid in rids}
    flagged = [requests[i] for i in sorted(ids)]
    addresses = sorted({subject_pseudonym(email_normalise(r.email)) for r in flagged})
    evidence = {
        "requests": _refs(flagged),
        "addresses": addresses,
        "address_count": len(addresses),
        "faces_in_common": len(shared),
        "threshold": settings.ABUSE_SHARED_FACE_ADDRESSES,
    }
    # The key names the pattern without a face: the earliest request among those sharing the faces.
    return _raise(
        kind=K.SHARED_FACE,
        key=f"request:{flagged[0].reference}",
        evidence=evidence,
        requests=flagged,
    )


def _many_faces(request: SubjectRequest, same: list[SubjectRequest]) -> AbuseSignal | None:
    faces = _faces(r.pk for r in same)
    # Face sets that share a face belong to one person: merge them, then count what is left.
    clusters: list[tuple[set[int], set[int]]] = []  # (faces, request ids)
    for request_id, refs in faces.items():
        merged_faces, merged_ids = set(refs), {request_id}
        for cluster in [c for c in clusters if c[0] & refs]:
            clusters.remove(cluster)
            merged_faces |= cluster[0]
            merged_ids |= cluster[1]
        clusters.append((merged_faces, merged_ids))
    if len(clusters) < settings.ABUSE_FACES_PER_ADDRESS:
        return None
    flagged = [r for r in same if r.pk in faces]
    address = subject_pseudonym(email_normalise(request.email))
    evidence = {
        "address": address,
        "requests": _refs(flagged),
        "face_sets": len(clusters),
        "threshold": settings.ABUSE_FACES_PER_ADDRESS,
    }
    return _raise(kind=K.MANY_FACES, key=address, evidence=evidence, requests=flagged)


def _address_variants(request: SubjectRequest, same: list[SubjectRequest]) -> AbuseSignal | None:
    forms = {r.email.strip().lower() for r in same}
    if len(forms) < 2:
        return None
    address = subject_pseudonym(email_normalise(request.email))
    evidence = {
        "address": address,
        "variants": len(forms),
        "variant_pseudonyms": sorted(subject_pseudonym(f) for f in forms),
        "requests": _refs(same),
    }
    return _raise(kind=K.ADDRESS_VARIANTS, key=address, evidence=evidence, requests=same)


def capture_failures(*, request: SubjectRequest) -> int:
    """How many times the request failed the live checks (audit events written by the capture flow)."""
    from audit.models import AuditEvent

    return AuditEvent.objects.filter(
        action=CAPTURE_FAILED,
        target_type=SubjectRequest._meta.label_lower,
        target_id=str(request.pk),
    ).count()


def abuse_capture_failed(*, request: SubjectRequest) -> AbuseSignal | None:
    """Called by the capture flow after a failed live capture (and by the periodic sweep): raises a signal once
    the request has failed ABUSE_CAPTURE_FAILURES times."""
    failures = capture_failures(request=request)
    if failures < settings.ABUSE_CAPTURE_FAILURES:
        return None
    evidence = {
        "request": request.reference,
        "requests": [request.reference],
        "address": subject_pseudonym(email_normalise(request.email)),
        "failures": failures,
        "threshold": settings.ABUSE_CAPTURE_FAILURES,
    }
    return _raise(
        kind=K.CAPTURE_FAILURES, key=request.reference, evidence=evidence, requests=[request]
    )


def abuse_capture_sweep(*, hours: int = 48) -> int:
    """Evaluate the capture-failure signal for every request that failed a live check recently, so that it is
    raised even when the capture flow does not call ``abuse_capture_failed`` (periodic)."""
    from audit.models import AuditEvent

    since = timezone.now() - timedelta(hours=hours)
    ids = (
        AuditEvent.objects.filter(
            action=CAPTURE_FAILED,
            target_type=SubjectRequest._meta.label_lower,
            created_at__gte=since,
        )
        .values("target_id")
        .annotate(n=Count("seq"))
        .filter(n__gte=settings.ABUSE_CAPTURE_FAILURES)
        .values_list("target_id", flat=True)
    )
    raised = 0
    for request in SubjectRequest.objects.filter(pk__in=[int(i) for i in ids if i.isdigit()]):
        with transaction.atomic():
            raised += abuse_capture_failed(request=request) is not None
    return raised


def _raise(
    *, kind: str, key: str, evidence: dict[str, Any], requests: Iterable[SubjectRequest]
) -> AbuseSignal | None:
    """Open a signal (alerting the DPO) or update the open one with the same key. Audited. None when unchanged."""
    requests = list(requests)
    now = timezone.now()
    with transaction.atomic():
        signal = (
            AbuseSignal.objects.select_for_update()
            .filter(kind=kind, key=key, status=AbuseSignal.Status.OPEN)
            .first()
        )
        if signal is not None:
            if signal.evidence == evidence:
                return None
            signal.evidence, signal.updated_at = evidence, now
            signal.save(update_fields=["evidence", "updated_at"])
            signal.requests.add(*requests)
            _audit(signal, "updated")
            return signal
        try:
            with transaction.atomic():
                signal = AbuseSignal.objects.create(
                    kind=kind, key=key, evidence=evidence, created_at=now, updated_at=now
                )
        except (
            IntegrityError
        ):  # raised at the same moment by another request: update that one instead
            return _raise(kind=kind, key=key, evidence=evidence, requests=requests)
        signal.requests.add(*requests)
        _audit(signal, "raised")
        _alert_dpo(signal)
    return signal


def _audit(signal: AbuseSignal, action: str, actor: Any = None, **details: Any) -> None:
    audit_record(
        actor=actor,
        action=f"subjects.abuse.{action}",
        target=signal,
        outcome="success",
        details={"kind": signal.kind, "evidence": signal.evidence, **details},
    )


def _alert_dpo(signal: AbuseSignal) -> None:
    from subjects.services import _url

    body = render_to_string(
        "subjects/email/abuse_signal.txt",
        {
            "signal": signal,
            "lines": evidence_lines(signal),
            "link": _url("subjects:abuse_signal", signal.pk),
        },
    )
    email_enqueue(
        to=[settings.DPO_EMAIL], subject=f"Abuse signal: {signal.get_kind_display()}", body=body
    )


@transaction.atomic
def abuse_signal_close(
    *, signal: AbuseSignal, actor: Any, note: str, ip: str | None = None
) -> AbuseSignal:
    """The DPO closes a signal with what they found or did (audited)."""
    signal = AbuseSignal.objects.select_for_update().get(pk=signal.pk)
    if signal.status == AbuseSignal.Status.CLOSED:
        return signal
    signal.status, signal.closed_at, signal.closed_by, signal.close_note = (
        AbuseSignal.Status.CLOSED,
        timezone.now(),
        actor,
        note,
    )
    signal.save(update_fields=["status", "closed_at", "closed_by", "close_note"])
    audit_record(
        actor=actor,
        action="subjects.abuse.closed",
        target=signal,
        outcome="success",
        ip=ip,
        details={"kind": signal.kind, "note": note[:500]},
    )
    return signal


def evidence_lines(signal: AbuseSignal) -> list[str]:
    """The evidence as lines a person reads (lists joined)."""
    return [
        f"{k.replace('_', ' ')}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in signal.evidence.items()
    ]


def abuse_signal_open_count() -> int:
    return AbuseSignal.objects.filter(status=AbuseSignal.Status.OPEN).count()
