"""import_images (through the lawfulness gate) and faces_evaluate with the real model on the shared photos."""

from __future__ import annotations

import json
import shutil
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from compliance.models import AuditEvent
from search.models import Face, SourceImage
from tests.search import photos


def local_source(*, name="press kit", approve_as=None, jurisdictions=("FR",)):
    from crawling import services as crawling

    source = crawling.source_add(
        name=name,
        scope=[],
        jurisdictions=list(jurisdictions),
        lawful_basis="legitimate_interests",
        art9_condition="manifestly_public",
        dpia_reference="DPIA-3",
        kind="local",
    )
    return (
        crawling.source_approve(source=source, actor=approve_as)
        if approve_as is not None
        else source
    )


@pytest.mark.django_db
def test_import_images_walks_subfolders_into_an_approved_local_source_and_reports_skips(
    tmp_path, dpo
):
    source = local_source(approve_as=dpo)
    nested = tmp_path / "2024" / "march"
    nested.mkdir(parents=True)
    for name in ("img1.jpg", "couple.jpg"):
        shutil.copy(photos.IMAGES / name, tmp_path / name)
    shutil.copy(photos.IMAGES / "img47.jpg", nested / "img47.jpg")
    (nested / "notes.jpg").write_bytes(photos.NOT_AN_IMAGE)
    (tmp_path / "2024" / "drawing.svg").write_bytes(photos.SVG)
    (tmp_path / "empty.png").write_bytes(photos.no_face_png())
    (nested / "copy-of-img1.jpg").write_bytes(photos.photo("img1.jpg"))
    (nested / "readme.txt").write_text("not a photo: not counted")
    out = StringIO()
    call_command(
        "import_images", str(tmp_path), "--source", "press kit", stdout=out, stderr=StringIO()
    )
    summary = json.loads(out.getvalue())
    assert summary["images"] == 7
    assert summary["stored"] == 4
    assert summary["faces"] == Face.objects.count() >= 4
    assert summary["skipped"] == {"duplicate": 1, "no_face": 1, "not_an_image": 1, "svg": 1}
    # Every image is linked to the source, with its own file name and no server path.
    assert set(SourceImage.objects.values_list("source_id", "source_label", "jurisdiction")) == {
        (source.pk, "press kit", "FR")
    }
    names = set(SourceImage.objects.values_list("original_name", flat=True))
    assert names == {
        "copy-of-img1.jpg",
        "couple.jpg",
        "img47.jpg",
        "empty.png",
    }  # the first of two copies is kept
    assert not any(
        str(tmp_path) in str(v)
        for v in SourceImage.objects.values_list("original_name", "page_url", "image_url")
    )
    assert (
        AuditEvent.objects.filter(
            action="crawling.import.completed", target_id=str(source.pk)
        ).count()
        == 1
    )
    # Running it again adds nothing.
    again = StringIO()
    call_command(
        "import_images", str(tmp_path), "--source", "press kit", stdout=again, stderr=StringIO()
    )
    assert json.loads(again.getvalue())["stored"] == 0
    assert SourceImage.objects.count() == 4
    # --no-recursive reads only the top folder.
    top = StringIO()
    call_command(
        "import_images",
        str(tmp_path),
        "--source",
        "press kit",
        "--no-recursive",
        stdout=top,
        stderr=StringIO(),
    )
    assert json.loads(top.getvalue())["images"] == 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("setup", "message"),
    [
        pytest.param(
            "missing",
            "No source named 'press kit'.*source_add --local.*approve",
            id="unknown-source-name",
        ),
        pytest.param(
            "proposed", "not been approved.*source_approve --name", id="source-not-yet-approved"
        ),
        pytest.param("suspended", "suspended: complaint", id="suspended-source"),
        pytest.param("web", "web source", id="a-crawled-web-source"),
        pytest.param(
            "excluded", "not been approved", id="excluded-jurisdiction-cannot-be-approved"
        ),
    ],
)
def test_import_images_refuses_without_an_approved_local_source(tmp_path, dpo, setup, message):
    from crawling import services as crawling

    shutil.copy(photos.IMAGES / "img1.jpg", tmp_path / "img1.jpg")
    if setup == "proposed":
        local_source()
    elif setup == "suspended":
        crawling.source_suspend(
            source=local_source(approve_as=dpo), actor=dpo, reason="complaint received"
        )
    elif setup == "web":
        web = crawling.source_add(
            name="press kit",
            scope=["https://example.org/"],
            jurisdictions=["FR"],
            lawful_basis="legitimate_interests",
            art9_condition="manifestly_public",
            dpia_reference="D-1",
        )
        crawling.source_approve(source=web, actor=dpo)
    elif setup == "excluded":
        with pytest.raises(ValidationError, match="excluded jurisdiction"):
            local_source(jurisdictions=["GB"], approve_as=dpo)  # registered, but never approvable
    with pytest.raises(CommandError, match=message):
        call_command("import_images", str(tmp_path), "--source", "press kit", stdout=StringIO())
    assert not SourceImage.objects.exists()
    assert (
        AuditEvent.objects.filter(action="crawling.import.refused", outcome="refused").count() == 1
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("files", "message"),
    [
        pytest.param({}, "no photo .* found in .* or its subfolders", id="empty-folder"),
        pytest.param({"notes.txt": b"hello"}, "no photo", id="only-non-photo-files"),
        pytest.param(
            {"a/broken.jpg": photos.NOT_AN_IMAGE},
            "none of the 1 files .* is a usable photo",
            id="only-broken-jpgs",
        ),
    ],
)
def test_import_images_with_nothing_importable_exits_non_zero(tmp_path, dpo, files, message):
    local_source(approve_as=dpo)
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    with pytest.raises(CommandError, match=message):
        call_command(
            "import_images",
            str(tmp_path),
            "--source",
            "press kit",
            stdout=StringIO(),
            stderr=StringIO(),
        )
    assert not SourceImage.objects.exists()


@pytest.mark.django_db
def test_import_images_into_a_missing_folder_is_a_clear_error(tmp_path, dpo):
    local_source(approve_as=dpo)
    with pytest.raises(CommandError, match="is not a folder"):
        call_command("import_images", str(tmp_path / "nope"), "--source", "press kit")


def test_faces_evaluate_prints_the_metrics(tmp_path):
    identities = tmp_path / "identities.csv"
    identities.write_text(
        "file,identity\nimg1.jpg,a\nimg2.jpg,a\nimg4.jpg,a\nimg3.jpg,b\nimg53.jpg,b\nimg57.jpg,c\n"
    )
    out = StringIO()
    call_command(
        "faces_evaluate",
        "--images",
        str(photos.IMAGES),
        "--identities",
        str(identities),
        stdout=out,
    )
    result = json.loads(out.getvalue().strip().splitlines()[-1])  # human-readable lines come first
    assert set(result) >= {
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
def test_import_images_skips_an_objector(tmp_path, dpo):
    from subjects.services import suppression_add

    local_source(approve_as=dpo)
    shutil.copy(photos.IMAGES / "img1.jpg", tmp_path / "img1.jpg")
    suppression_add(actor=None, request_reference="OBJ-9", images=[photos.photo("img1.jpg")])
    out = StringIO()
    call_command("import_images", str(tmp_path), "--source", "press kit", stdout=out)
    assert json.loads(out.getvalue())["skipped"] == {"suppressed": 1}
    assert not SourceImage.objects.exists()
