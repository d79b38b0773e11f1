"""The live camera capture of the rights portal (issue 22 item 2): the one owner of ``LiveCapture``.

The flow (docs/capture.md):

1. ``capture_challenge_issue``: the capture page asks for a challenge (search.liveness.challenge_new:
   2-3 head poses and a one-time nonce). It is kept in the cache under the request's reference and the
   nonce's digest, for longer than its lifetime, so that a late submission still gets a report that
   says "stale" rather than a bare refusal.
2. ``capture_submit``: the browser sends 4-8 frames with the nonce. The checks run
   (``liveness.capture_check``, which consumes the nonce) with the request's confirmed candidates as
   references when there are any; the frames are stored ENCRYPTED (Fernet, ``CAPTURE_ENCRYPTION_KEY``)
   as one storage object, the report (numbers and flags only) in the row. Audited
   ``subjects.capture.submitted`` and, when a check failed, ``subjects.capture.failed``. The capture
   releases nothing by itself: the requester is told it was received and that the DPO will review it.
3. ``capture_decide``: the DPO accepts or refuses, recorded through
   ``subjects.identity.identity_proof_record(method="live_capture")`` (the one owner of "is the
   requester the person"); the frames are deleted at once with a receipt (``subjects.capture.deleted``).
4. ``captures_sweep``: undecided captures past ``delete_by`` (or of a closed request) lose their frames.

Frames are never logged, never put in an audit event and never kept unencrypted outside memory.
"""

from __future__ import annotations

import hashlib
import logging
import struct
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record
from config.errors import ApplicationError
from search import liveness
from subjects.abuse import abuse_capture_failed
from subjects.models import Candidate, IdentityProof, LiveCapture, ProofMethod, SubjectRequest
from subjects.selectors import dpo_required

logger = logging.getLogger(__name__)

CHALLENGE_KEY = "capture:challenge:"
# A challenge stays readable this long after it expires: a late submission is reported as stale.
CHALLENGE_KEEP_SECONDS = 3600
# Challenges one request may ask for in a day (each page view asks for one).
CHALLENGES_PER_DAY = 30
STORAGE_PREFIX = "live-captures"
MAGIC = b"LCF1"


class CaptureRefused(ApplicationError):
    """The submission cannot be checked at all (no such challenge, too many attempts, request closed).
    ``reason`` (= ``message``) is worded for the requester; ``status`` the HTTP status to answer with."""

    default_code = "capture_refused"

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason, status=status)


# --- Encryption -------------------------------------------------------------------------


class ImproperlyConfiguredKey(RuntimeError):
    pass


def _fernet() -> Any:
    from cryptography.fernet import Fernet

    key = settings.CAPTURE_ENCRYPTION_KEY
    if not key:
        raise ImproperlyConfiguredKey("CAPTURE_ENCRYPTION_KEY is not set")
    return Fernet(key.encode() if isinstance(key, str) else key)


def frames_pack(frames: Sequence[bytes]) -> bytes:
    """The frames as one encrypted blob: MAGIC, a count, then each frame's length and bytes, encrypted whole."""
    parts = [MAGIC, struct.pack(">I", len(frames))]
    for frame in frames:
        parts.append(struct.pack(">I", len(frame)))
        parts.append(bytes(frame))
    return _fernet().encrypt(b"".join(parts))


def frames_unpack(blob: bytes) -> list[bytes]:
    """The frames of a blob written by ``frames_pack`` (raises ``cryptography.fernet.InvalidToken`` on a wrong key)."""
    plain = _fernet().decrypt(blob)
    if plain[:4] != MAGIC:
        raise ValueError("not a live capture")
    (count,) = struct.unpack(">I", plain[4:8])
    offset, frames = 8, []
    for _i in range(count):
        (size,) = struct.unpack(">I", plain[offset : offset + 4])
        frames.append(plain[offset + 4 : offset + 4 + size])
        offset += 4 + size
    return frames


# --- The challenge ----------------------------------------------------------------------


def _challenge_key(reference: str, nonce: str) -> str:
    return CHALLENGE_KEY + reference + ":" + hashlib.sha256(nonce.encode()).hexdigest()


def capture_allowed(*, request: SubjectRequest) -> bool:
    """Whether the requester may send a live capture now: email confirmed, request open, no accepted
    proof yet (a second one would prove nothing more)."""
    from subjects.identity import identity_proven

    return (
        request.verified_at is not None and request.is_open and not identity_proven(request=request)
    )


def capture_challenge_issue(*, request: SubjectRequest) -> liveness.Challenge:
    """A fresh challenge for this request, kept (with its nonce) in the cache until it is used or stale."""
    if not capture_allowed(request=request):
        raise CaptureRefused(_("A live capture cannot be sent for this request now."), status=409)
    day_key = f"capture:challenges:{request.reference}:{timezone.now():%Y%m%d}"
    cache.add(day_key, 0, timeout=86400)
    if cache.incr(day_key) > CHALLENGES_PER_DAY:
        raise CaptureRefused(
            _("Too many attempts today: please try again tomorrow, or write to us."), status=429
        )
    seed = getattr(
        settings, "CAPTURE_TEST_CHALLENGE_SEED", None
    )  # defined in config/test_settings.py only
    rng = None
    if seed is not None and not settings.PRODUCTION:
        from random import Random

        rng = Random(int(seed))
    challenge = liveness.challenge_new(rng=rng)
    timeout = int(challenge.expires_at - challenge.issued_at) + CHALLENGE_KEEP_SECONDS
    cache.set(
        _challenge_key(request.reference, challenge.nonce), challenge.to_dict(), timeout=timeout
    )
    return challenge


# --- Submission ---------------------------------------------------------------------------


def _reference_embeddings(request: SubjectRequest) -> list[Any]:
    """The embeddings of the request's confirmed candidates made with the current face model."""
    from search import engine
    from search.models import Face

    face_ids = list(
        request.candidates.filter(
            status=Candidate.Status.CONFIRMED, face__isnull=False
        ).values_list("face_id", flat=True)
    )
    if not face_ids:
        return []
    rows = Face.objects.filter(pk__in=face_ids, model=engine.model_name()).values_list(
        "embedding", flat=True
    )
    return [list(e) for e in rows]


def _attempts_today(request: SubjectRequest) -> int:
    return request.live_captures.filter(created_at__gte=timezone.now() - timedelta(days=1)).count()


def capture_submit(
    *,
    request: SubjectRequest,
    nonce: str,
    frames: Sequence[bytes],
    captured_at: Sequence[float] | None = None,
    ip: str | None = None,
) -> LiveCapture:
    """Check a live capture and keep it, encrypted, for the DPO. Never releases anything by itself.

    Raises ``CaptureRefused`` when there is nothing to check against (unknown nonce, request closed,
    too many attempts); every other outcome, attacks included, is a stored capture whose report
    carries the flags.
    """
    if not capture_allowed(request=request):
        raise CaptureRefused(_("A live capture cannot be sent for this request now."), status=409)
    if _attempts_today(request) >= settings.CAPTURE_ATTEMPTS_PER_DAY:
        raise CaptureRefused(
            _("Too many attempts today: please try again tomorrow, or write to us."), status=429
        )
    stored_challenge = (
        cache.get(_challenge_key(request.reference, str(nonce or ""))) if nonce else None
    )
    if stored_challenge is None:
        raise CaptureRefused(
            _("This capture has expired or was not started on this page: please start again.")
        )
    challenge = liveness.Challenge.from_dict(stored_challenge)
    references = _reference_embeddings(request)
    frame_list = [bytes(f) for f in list(frames)[: liveness.MAX_FRAMES + 1]]
    report = liveness.capture_check(
        challenge=challenge,
        frames=frame_list,
        captured_at=captured_at,
        reference_embeddings=references or None,
        nonce=nonce,
    )
    data = report.to_dict()
    data["references"] = len(references)
    if not references:
        data["reference_note"] = (
            "no confirmed candidate yet: the live face was not compared with any photo"
        )
    kept = frame_list[: liveness.MAX_FRAMES]
    name, digest = "", ""
    if kept:
        blob = frames_pack(kept)
        digest = hashlib.sha256(blob).hexdigest()
        name = default_storage.save(
            f"{STORAGE_PREFIX}/{request.pk}/{uuid.uuid4().hex}.bin", ContentFile(blob)
        )
    try:
        with transaction.atomic():
            capture = LiveCapture.objects.create(
                request=request,
                challenge={k: v for k, v in challenge.to_dict().items() if k != "nonce"},
                report=data,
                passed=report.passed,
                frame_count=len(kept),
                reference_count=len(references),
                frames_name=name,
                frames_sha256=digest,
                delete_by=request.due_date,
            )
            details = {
                "reference": request.reference,
                "capture": capture.pk,
                "passed": report.passed,
                "flags": report.flags,
                "frames": len(kept),
                "references": len(references),
            }
            audit_record(
                actor=None,
                action="subjects.capture.submitted",
                target=request,
                outcome="success",
                ip=ip,
                details=details,
            )
            if not report.passed:
                audit_record(
                    actor=None,
                    action="subjects.capture.failed",
                    target=request,
                    outcome="denied",
                    ip=ip,
                    details=details,
                )
                # Repeated failures on one request alert the DPO (an impostor trying again); the sweep is the backstop.
                abuse_capture_failed(request=request)
    except Exception:
        if name:
            default_storage.delete(name)
        raise
    return capture


# --- The DPO ----------------------------------------------------------------------------


def capture_frames(*, capture: LiveCapture, actor: Any) -> list[bytes]:
    """The capture's frames, decrypted in memory for the DPO's review; empty once deleted."""
    dpo_required(user=actor)
    if not capture.frames_held:
        return []
    with default_storage.open(capture.frames_name, "rb") as fh:
        return frames_unpack(fh.read())


def _frames_delete(
    capture: LiveCapture, *, actor: Any, reason: str, ip: str | None = None
) -> dict[str, Any]:
    """Delete the capture's storage object now, in the caller's transaction; audited with a receipt."""
    receipt: dict[str, Any] = {
        "reference": capture.request.reference,
        "capture": capture.pk,
        "reason": reason,
        "frames": capture.frame_count,
        "objects": 0,
        "sha256": capture.frames_sha256,
    }
    if capture.frames_name and default_storage.exists(capture.frames_name):
        with default_storage.open(capture.frames_name, "rb") as fh:
            receipt["sha256"] = hashlib.sha256(fh.read()).hexdigest()
        default_storage.delete(capture.frames_name)
        receipt["objects"] = 1
    receipt["gone"] = not (capture.frames_name and default_storage.exists(capture.frames_name))
    capture.deleted_at = timezone.now()
    capture.save(update_fields=["deleted_at"])
    audit_record(
        actor=actor,
        action="subjects.capture.deleted",
        target=capture.request,
        outcome="success",
        ip=ip,
        details=receipt,
    )
    return receipt


@transaction.atomic
def capture_decide(
    *, capture: LiveCapture, accepted: bool, actor: Any, note: str = "", ip: str | None = None
) -> IdentityProof:
    """The DPO's decision on a capture: recorded as the request's identity proof (method live_capture),
    then the frames are deleted at once, with a receipt."""
    from subjects.identity import identity_proof_record

    dpo_required(user=actor)
    capture = LiveCapture.objects.select_for_update().select_related("request").get(pk=capture.pk)
    if capture.decision:
        raise ValidationError("This capture was already decided.")
    if capture.deleted_at is not None:
        raise ValidationError(
            "The frames of this capture were deleted (past the request's due date): ask for a new one."
        )
    proof = identity_proof_record(
        request=capture.request,
        method=ProofMethod.LIVE_CAPTURE,
        accepted=accepted,
        actor=actor,
        note=note or f"live capture {capture.pk} reviewed beside the confirmed candidates",
        evidence={"capture": capture.pk, **capture.report},
        ip=ip,
    )
    capture.decision = LiveCapture.Decision.ACCEPTED if accepted else LiveCapture.Decision.REFUSED
    capture.decided_at, capture.decided_by = timezone.now(), actor
    capture.save(update_fields=["decision", "decided_at", "decided_by"])
    _frames_delete(capture, actor=actor, reason="decided", ip=ip)
    return proof


def captures_sweep(*, today: Any = None) -> int:
    """Delete the frames of undecided captures past their ``delete_by`` date or of closed requests."""
    today = today or timezone.localdate()
    open_statuses = [
        s
        for s in SubjectRequest.Status.values
        if s not in ("completed", "denied", "withdrawn", "lapsed")
    ]
    due = LiveCapture.objects.filter(deleted_at__isnull=True).exclude(frames_name="")
    due = due.filter(delete_by__lt=today) | due.exclude(request__status__in=open_statuses)
    count = 0
    for pk in list(due.values_list("pk", flat=True)):
        with transaction.atomic():
            capture = (
                LiveCapture.objects.select_for_update()
                .select_related("request")
                .filter(pk=pk, deleted_at__isnull=True)
                .first()
            )
            if capture is None:
                continue
            _frames_delete(
                capture,
                actor=None,
                reason="due date passed" if capture.delete_by < today else "request closed",
            )
            count += 1
    return count
