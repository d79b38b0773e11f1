"""The analyst's journey: search by photo in the UI (one of the person's photos imported from a folder, one
crawled from the web), choosing the right face in a photo of two people,
then the same over the API with a token made on the API-token page, fetching the crops with that token.

Bad things it would catch: results of the wrong person, crops that do not load, server paths in results
or API answers, crops that answer 302 to a token client, an unauthenticated API call answered in
another shape than {"error": {"code", "message"}}.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import time

import httpx
import pytest
from django.core.management import call_command
from PIL import Image

from accounts.models import Role
from search.models import ProbeFace, SearchRequest, SourceImage
from tests.accounts import factories
from tests.browser.conftest import requires_chromium, server_path_markers
from tests.search import photos
from tests.search.conftest import index_photos

pytestmark = [
    pytest.mark.browser,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    requires_chromium,
]

PERSON01 = ("img1.jpg", "img4.jpg")  # the person on the left of the probe (img2.jpg)
PERSON02 = ("img3.jpg", "img53.jpg")  # the person on the right (img12.jpg)
IMPORTED = "img1.jpg"  # imported from a folder as the README shows; the others come from the web


def _import(tmp_path) -> SourceImage:
    """As the README shows: a local source approved by a DPO, then `import_images FOLDER --source NAME`,
    with the photo one folder down."""
    dpo = factories.staff("dpo", email="dpo@facesearch.example")
    call_command(
        "source_add",
        "--local",
        "--name",
        "Demo archive",
        "--jurisdiction",
        "FR",
        "--lawful-basis",
        "legitimate_interests",
        "--art9",
        "manifestly_public",
        "--dpia",
        "DPIA-2026-01",
        "--approve-as",
        dpo.email,
        stdout=io.StringIO(),
    )
    folder = tmp_path / "archive" / "2024"
    folder.mkdir(parents=True)
    shutil.copy(
        photos.IMAGES / IMPORTED, folder / IMPORTED
    )  # a temporary copy, outside the repository
    out = io.StringIO()
    call_command("import_images", str(tmp_path / "archive"), "--source", "Demo archive", stdout=out)
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert summary["faces"] == 1, summary
    return SourceImage.objects.get(original_name=IMPORTED)


def _two_people(tmp_path) -> tuple[str, int]:
    """img2 (person01) left, img12 (person02) right, side by side at one height; returns path and width."""
    left = Image.open(photos.IMAGES / "img2.jpg").convert("RGB")
    right = Image.open(photos.IMAGES / "img12.jpg").convert("RGB")
    height = 800
    left = left.resize((left.width * height // left.height, height))
    right = right.resize((right.width * height // right.height, height))
    both = Image.new("RGB", (left.width + right.width, height), "white")
    both.paste(left, (0, 0))
    both.paste(right, (left.width, 0))
    path = tmp_path / "two-people.jpg"
    both.save(path, quality=90)
    return str(path), left.width


def _face_ids(srcs: list[str]) -> set[int]:
    return {int(m.group(1)) for s in srcs if (m := re.search(r"/faces/(\d+)\.jpg", s))}


def _no_server_paths(payload: str) -> None:
    for marker in server_path_markers():
        assert marker not in payload, f"the API answer shows a server path ({marker!r})"


def test_analyst_searches_in_the_ui_and_over_the_api(journey, celery_worker_process, tmp_path):
    indexed = {
        IMPORTED: _import(tmp_path),
        **index_photos(*(n for n in PERSON01 + PERSON02 if n != IMPORTED)),
    }
    faces = {name: image.faces.get().pk for name, image in indexed.items()}
    mine = {faces[n] for n in PERSON01}
    others = {faces[n] for n in PERSON02}
    probe, split_x = _two_people(tmp_path)
    org = factories.organisation("Acme Investigations")
    analyst = factories.member(org, role=Role.ANALYST, email="analyst@acme.example")
    j, page = journey, journey.page

    j.log_in(analyst.email)
    page.get_by_role("heading", name=re.compile("^Welcome")).wait_for()
    j.step("home")

    page.get_by_role("link", name="Search by photo").click()
    page.get_by_label("Photo").set_input_files(probe)
    page.get_by_label("Purpose").fill("Identify a fraud suspect seen with an accomplice")
    page.get_by_label("Lawful basis").select_option("legitimate_interests")
    page.get_by_label("Case reference").fill("CASE-42")
    j.step("search form filled", check_links=False)
    page.get_by_role("button", name="Search", exact=True).click()
    page.get_by_role("heading", name="The photo shows several faces: which one?").wait_for(
        timeout=90_000
    )
    choices = page.locator("fieldset.faces img")
    assert choices.count() == 2, f"{choices.count()} faces offered for a photo of two people"
    j.step("choose among two faces")

    # The person on the left is the one to find; the page offers faces left to right.
    search = SearchRequest.objects.get(case_reference="CASE-42")
    left = min(ProbeFace.objects.filter(search=search), key=lambda pf: pf.box[0])
    assert left.box[0] + left.box[2] <= split_x, "the first face offered is not the one on the left"
    page.get_by_role("radio").nth(0).check()
    page.get_by_role("button", name="Search for this face").click()
    heading = page.get_by_role("heading", name=re.compile(r"^\d+ match"))
    heading.wait_for(timeout=90_000)
    j.wait_for_images()
    srcs = page.locator("#search-status img").evaluate_all(
        "imgs => imgs.map(i => i.getAttribute('src'))"
    )
    shown = _face_ids(srcs)
    assert shown, "no result shown for the person on the left"
    assert shown == mine, (
        f"results show someone else: faces {shown - mine} (the person is {mine}, the other {others})"
    )
    for i in range(page.locator("#search-status img").count()):
        assert page.locator("#search-status img").nth(i).evaluate("img => img.naturalWidth") > 0
    for link in page.locator("#search-status a").evaluate_all(
        "as => as.map(a => a.getAttribute('href'))"
    ):
        assert link and link.startswith(("https://", "http://")), f"a source link is {link!r}"
    # Where each photo comes from: the imported one by source and file name, with no empty "page" link;
    # the crawled one by its web page and image.
    imported = page.locator("#search-status tr").filter(
        has=page.locator(f"img[src*='/faces/{faces[IMPORTED]}.jpg']")
    )
    assert "Demo archive" in imported.inner_text() and IMPORTED in imported.inner_text(), (
        imported.inner_text()
    )
    assert imported.get_by_role("link").count() == 0, "an imported photo has a web link"
    crawled = page.locator("#search-status tr").filter(
        has=page.locator(f"img[src*='/faces/{faces['img4.jpg']}.jpg']")
    )
    assert "test photos" in crawled.inner_text()
    assert (
        crawled.get_by_role("link", name="page").get_attribute("href")
        == "https://example.org/img4.jpg.html"
    )
    # The level the search ran at, in words: a small index, so most true matches show and no warning.
    level = page.locator("#operating-point").inner_text()
    assert re.search(r"Searched against \d+ faces", level) and "of true matches" in level, level
    assert "no match does not mean" not in level, level
    j.step("results for the chosen face")
    results_url = page.url

    # The API: a token made on the API-token page, as the documentation says.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Search").click()
    j.goto("/org/api-token/")
    page.get_by_label("Name").fill("Journey script")
    page.get_by_role("button", name="Create a token").click()
    key = page.locator("code.token").inner_text().strip()
    assert re.fullmatch(r"[0-9a-f]{64}", key), key  # 256 random bits; only its SHA-256 is stored
    j.step("api token created")

    with httpx.Client(
        base_url=j.base, headers={"Authorization": f"Token {key}"}, timeout=30
    ) as api:
        created = api.post(
            "/api/v1/searches/",
            data={
                "purpose": "Same suspect, by API",
                "lawful_basis": "legitimate_interests",
                "case_reference": "CASE-43",
            },
            files={"image": ("two-people.jpg", open(probe, "rb"), "image/jpeg")},  # noqa: SIM115
        )
        assert created.status_code == 202, created.text
        url = created.json()["url"]
        assert url.startswith(j.base + "/api/v1/searches/"), url
        detail = _poll(api, url, until={"choose_face", "done", "failed"})
        assert detail["status"] == "choose_face", detail
        assert len(detail["faces_to_choose"]) == 2
        leftmost = min(detail["faces_to_choose"], key=lambda f: f["box"][0])
        for face in detail["faces_to_choose"]:
            crop = api.get(face["thumbnail_url"])
            assert crop.status_code == 200 and crop.headers["content-type"] == "image/jpeg", (
                crop.status_code,
                crop.headers,
            )
        chosen = api.post(url + "choose/", json={"face": leftmost["index"]})
        assert chosen.status_code == 200, chosen.text
        detail = _poll(api, url, until={"done", "failed"})
        assert detail["status"] == "done", detail
        _no_server_paths(str(detail))
        api_faces = {hit["face_id"] for hit in detail["hits"]}
        assert api_faces == shown, f"the API found {api_faces}, the UI showed {shown}"
        for hit in detail["hits"]:
            if hit["face_id"] == faces[IMPORTED]:
                assert not hit["page_url"] and not hit["image_url"], hit  # no link to a server file
                assert hit["source"] == "Demo archive", hit
            else:
                assert hit["page_url"].startswith("https://") and hit["image_url"].startswith(
                    "https://"
                ), hit
            crop = api.get(hit["thumbnail_url"])
            assert crop.status_code == 200, (
                f"the crop {hit['thumbnail_url']} answers {crop.status_code} to the token"
            )
            assert crop.headers["content-type"] == "image/jpeg"
            assert crop.content[:2] == b"\xff\xd8"
    j.goto("/search/")
    assert "CASE-43" in j.visible_text()  # the API search is the analyst's, listed with the others
    j.step("api search done, crops fetched with the token, search listed")

    # Without a token the API answers in its documented error shape.
    with httpx.Client(base_url=j.base, timeout=30) as anonymous:
        refused = anonymous.get(url)
    assert refused.status_code in (401, 403), refused.status_code
    body = refused.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body

    # The results read on a phone.
    j.goto(results_url)
    j.assert_fits(375)
    j.finish()


def _poll(api: httpx.Client, url: str, *, until: set[str], seconds: float = 90) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        response = api.get(url)
        assert response.status_code == 200, response.text
        detail = response.json()
        if detail["status"] in until or time.monotonic() > deadline:
            return detail
        time.sleep(0.5)
