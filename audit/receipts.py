"""Proofs for the people the log is about: the log events about a request, a receipt or a package.

An event is "about" an object when the object is its target (``target_type`` and ``target_id``, as
``audit_record`` writes them). For each such event the person is given the proof JSON of the spec
(log index, tree size, leaf hash, inclusion proof, root, signed checkpoint, verifier key), or, while
the sequencer has not reached it yet, a "pending" mark. The leaf's content is never part of it: only
hashes, indices and the checkpoint.

Imports nothing from the project's other apps: callers pass their model instances.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.db.models import Model, Q
from django.urls import reverse

from audit import tlog
from audit.models import AuditEvent

# A request gathers a dozen events in its life; this only bounds a page that something went wrong with.
MAX_EVENTS = 200


@dataclass(frozen=True)
class EventProof:
    """One event's place in the log, as a person is shown it."""

    seq: int
    proof: dict[str, Any] | None  # the spec's proof JSON; None while not yet sequenced

    @property
    def pending(self) -> bool:
        return self.proof is None

    @property
    def log_index(self) -> int | None:
        return None if self.proof is None else self.proof["log_index"]

    @property
    def tree_size(self) -> int | None:
        return None if self.proof is None else self.proof["tree_size"]

    @property
    def json(self) -> str:
        """The proof as one JSON document (what a person saves, pastes, or gives to any RFC 9162 tool)."""
        return proof_json(self.proof) if self.proof is not None else ""

    @property
    def verify_url(self) -> str:
        """Our in-browser checker with the proof after the '#': a browser never sends that part."""
        if self.proof is None:
            return ""
        return reverse("transparency:log_verify") + "#" + quote(self.json, safe="")


def proof_json(proof: dict[str, Any]) -> str:
    return json.dumps(proof, ensure_ascii=False, separators=(",", ":"))


def _target(obj: Model | tuple[str, str]) -> tuple[str, str]:
    if isinstance(obj, Model):
        return obj._meta.label_lower, str(obj.pk)
    return obj


def event_seqs_about(*objects: Model | tuple[str, str] | None) -> list[int]:
    """The sequence numbers of the events whose target is one of ``objects``, oldest first."""
    wanted = [_target(o) for o in objects if o is not None]
    if not wanted:
        return []
    query = Q()
    for target_type, target_id in wanted:
        query |= Q(target_type=target_type, target_id=target_id)
    rows = AuditEvent.objects.filter(query).order_by("seq").values_list("seq", flat=True)
    return list(rows[:MAX_EVENTS])


def proofs_for_events(seqs: Iterable[int]) -> list[EventProof]:
    return [EventProof(seq=seq, proof=tlog.proof_for_event(seq)) for seq in seqs]


def proofs_about(*objects: Model | tuple[str, str] | None) -> list[EventProof]:
    """Every event about these objects with its inclusion proof (or pending), oldest first."""
    return proofs_for_events(event_seqs_about(*objects))


def proofs_document(proofs: list[EventProof]) -> dict[str, Any]:
    """The proofs as one JSON object, for a file in a download: sequenced ones and a pending count."""
    return {
        "proofs": [p.proof for p in proofs if p.proof is not None],
        "pending": sum(1 for p in proofs if p.proof is None),
    }
