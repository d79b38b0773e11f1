"""import_images and faces_evaluate with the real model on the shared photos."""

from __future__ import annotations

import json
import shutil
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from search.models import Face, SourceImage
from tests.search import photos


@pytest.mark.django_db
def test_import_images_indexes_a_folder_and_reports_skips(tmp_path):
    for name in ("img1.jpg", "couple.jpg", "img47.jpg"):
        shutil.copy(photos.IMAGES / name, tmp_path / name)
    (tmp_path / "notes.jpg").write_bytes(photos.NOT_AN_IMAGE)
    (tmp_path / "drawing.svg").write_bytes(photos.SVG)
    (tmp_path / "empty.png").write_bytes(photos.no_face_png())
    (tmp_path / "copy-of-img1.jpg").write_bytes(photos.photo("img1.jpg"))
    out = StringIO()
    call_command("import_images", str(tmp_path), "--source", "press kit", stdout=out, stderr=StringIO())
    summary = json.loads(out.getvalue())
    assert summary["images"] == 7
    assert summary["stored"] == 4
    assert summary["faces"] == Face.objects.count() >= 4
    assert summary["skipped"] == {"duplicate": 1, "no_face": 1, "not_an_image": 1, "svg": 1}
    assert set(SourceImage.objects.values_list("source_label", flat=True)) == {"press kit"}
    # Running it again adds nothing.
    again = StringIO()
    call_command("import_images", str(tmp_path), "--source", "press kit", stdout=again, stderr=StringIO())
    assert json.loads(again.getvalue())["stored"] == 0
    assert SourceImage.objects.count() == 4


@pytest.mark.django_db
def test_import_images_refuses_an_excluded_jurisdiction(tmp_path):
    shutil.copy(photos.IMAGES / "img1.jpg", tmp_path / "img1.jpg")
    out = StringIO()
    call_command("import_images", str(tmp_path), "--source", "uk", "--jurisdiction", "GB", stdout=out)
    assert json.loads(out.getvalue())["skipped"] == {"excluded_jurisdiction": 1}
    assert not SourceImage.objects.exists()


def test_faces_evaluate_prints_the_metrics(tmp_path):
    identities = tmp_path / "identities.csv"
    identities.write_text("file,identity\nimg1.jpg,a\nimg2.jpg,a\nimg4.jpg,a\nimg3.jpg,b\nimg53.jpg,b\nimg57.jpg,c\n")
    out = StringIO()
    call_command("faces_evaluate", "--images", str(photos.IMAGES), "--identities", str(identities), stdout=out)
    result = json.loads(out.getvalue())
    assert set(result) == {
        "images",
        "faces",
        "pairs",
        "threshold",
        "tpr",
        "tnr",
        "balanced_accuracy",
        "rank1",
        "seconds_per_image",
    }
    assert result["images"] == 6 and result["pairs"] == 15
    assert result["balanced_accuracy"] == 1.0 and result["rank1"] == 1.0


def test_faces_evaluate_rejects_a_bad_identities_file(tmp_path):
    bad = tmp_path / "ids.csv"
    bad.write_text("name,person\nimg1.jpg,a\n")
    with pytest.raises(CommandError, match="file,identity"):
        call_command("faces_evaluate", "--images", str(photos.IMAGES), "--identities", str(bad))


@pytest.mark.django_db
def test_import_images_skips_an_objector(tmp_path):
    from subjects.services import suppression_add

    shutil.copy(photos.IMAGES / "img1.jpg", tmp_path / "img1.jpg")
    suppression_add(actor=None, request_reference="OBJ-9", images=[photos.photo("img1.jpg")])
    out = StringIO()
    call_command("import_images", str(tmp_path), "--source", "press kit", stdout=out)
    assert json.loads(out.getvalue())["skipped"] == {"suppressed": 1}
    assert not SourceImage.objects.exists()
