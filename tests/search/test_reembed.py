"""faces_reembed: faces of an older pipeline get the current pipeline's embedding in place, with the real
model on real photos (img1: one face; couple.jpg: two)."""

from __future__ import annotations

import json
from io import StringIO

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command

from compliance.models import AuditEvent
from search import engine
from search.models import Face
from tests.search.conftest import index_photos


def _run(*args: str) -> dict:
    out = StringIO()
    call_command("faces_reembed", *args, stdout=out)
    return json.loads(out.getvalue())


def _age(face: Face) -> None:
    """Make a face look embedded by an older pipeline: no version recorded, a different vector."""
    old = np.asarray(face.embedding, dtype=np.float64)[::-1]
    face.embedding, face.pipeline = (old / np.linalg.norm(old)).tolist(), ""
    face.save(update_fields=["embedding", "pipeline"])


@pytest.mark.django_db
def test_older_faces_take_the_current_embedding_in_place_and_nothing_else_changes():
    """Four faces of an older pipeline: two re-embedded (the same vector a fresh analysis gives, same row
    and crop), one restricted and left alone, one whose box no longer holds a face left and counted. One
    audit event per photo, without embeddings. A second run finds nothing more to do."""
    images = index_photos("img1.jpg", "couple.jpg")
    faces = list(Face.objects.order_by("image_id", "box_x"))
    assert len(faces) == 3 and sum(f.image_id == images["couple.jpg"].pk for f in faces) == 2
    fresh = {f.pk: np.asarray(f.embedding) for f in faces}
    crops = {f.pk: f.crop.name for f in faces}
    for face in faces:
        _age(face)
    single, left_of_couple, right_of_couple = faces
    Face.objects.filter(pk=right_of_couple.pk).update(status=Face.Status.RESTRICTED)
    Face.objects.filter(pk=left_of_couple.pk).update(
        box_x=0, box_y=0, box_w=20, box_h=20
    )  # no face there

    assert (
        _run("--dry-run")["faces_to_reembed"] == 2
    )  # the restricted face is not used, so not counted
    counts = _run()
    assert (
        counts["images"] == 2
        and counts["faces"] == 1
        and counts["unmatched"] == 1
        and counts["left"] == 1
    )
    version = engine.pipeline_version()
    single.refresh_from_db()
    assert single.pipeline == version and single.crop.name == crops[single.pk]
    assert float(np.dot(single.embedding, fresh[single.pk])) == pytest.approx(1.0, abs=1e-6)
    restricted = Face.objects.get(pk=right_of_couple.pk)
    assert (
        restricted.pipeline == ""
        and float(np.dot(restricted.embedding, fresh[restricted.pk])) < 0.99
    )
    assert Face.objects.get(pk=left_of_couple.pk).pipeline == ""
    events = AuditEvent.objects.filter(action="search.faces.reembedded")
    assert events.count() == 2
    assert {e.details["faces"] for e in events} == {0, 1} and all(
        "embedding" not in json.dumps(e.details) for e in events
    )
    # Unmatched faces stay to do; the matched one is not done twice.
    again = _run()
    assert again["faces"] == 0 and again["unmatched"] == 1


@pytest.mark.django_db
def test_a_photo_whose_file_is_gone_is_counted_and_its_face_left():
    images = index_photos("img1.jpg")
    face = Face.objects.get()
    _age(face)
    default_storage.delete(images["img1.jpg"].file.name)
    counts = _run()
    assert counts["missing"] == 1 and counts["faces"] == 0 and counts["left"] == 1
    assert Face.objects.get().pipeline == ""
    assert not AuditEvent.objects.filter(action="search.faces.reembedded").exists()


@pytest.mark.django_db
def test_a_reembedded_face_that_an_objectors_template_matches_is_suppressed():
    """An objector's kept template (the current pipeline's embedding of img2, the same person as img1)
    did not match img1's old embedding; once re-embedded, img1 matches and is suppressed, as ingestion
    would have left it out."""
    from subjects.models import Suppression
    from tests.search import photos

    index_photos("img1.jpg")
    face = Face.objects.get()
    _age(face)
    template = engine.analyse(engine.decode_image(photos.photo("img2.jpg"))).faces[0]
    Suppression.objects.create(
        kind=Suppression.Kind.TEMPLATE,
        value_sha256="t" * 64,
        template=template.embedding.tolist(),
        model=template.model,
    )
    counts = _run()
    assert counts["faces"] == 1 and counts["suppressed"] == 1
    assert Face.objects.get().status == Face.Status.SUPPRESSED
    assert AuditEvent.objects.get(action="search.faces.reembedded").details["suppressed"] == 1
