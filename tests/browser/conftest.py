"""Shared fixtures for the browser journeys: Playwright drives Debian's chromium against the live server.

A ``Journey`` wraps one browser context for one persona's walk through the product. Every step is
timed, screenshotted into ``test-artifacts/<journey>/NN-step.png`` and checked the way the person
would check it with their eyes: no server paths, no raw ISO timestamps, links that open, images
that load. Console errors, failed requests and unexpected HTTP errors fail the journey at the end.
Nothing is blocked: the favicon and the static assets load as in a real browser.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from django.conf import settings as django_settings
from django.core import mail

from tests.accounts import factories
from tests.browser import django_connections_checked
from tests.browser.axe import AxeGate, assert_accessible

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
]

# Timestamps a layperson should never be shown: 2026-11-28T11:42, 2026-11-28 11:42:33, +00:00 offsets.
RAW_TIMESTAMP = re.compile(
    r"\b\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}|[ T]\d{2}:\d{2}:\d{2})"  # ISO date-times
    r"|\d{2}:\d{2}:\d{2}(?:\.\d+)?[+-]\d{2}:\d{2}"  # a time with a UTC offset
)

requires_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)"
)


def server_path_markers() -> list[str]:
    """Strings that betray a path on the server: file URLs, the checkout, the media folder."""
    markers = ["file://", "/work/", str(Path(django_settings.BASE_DIR))]
    media = str(django_settings.MEDIA_ROOT)
    if media:
        markers.append(media)
    return markers


class TotpClock:
    """allauth's clock (the live server runs in this process), moved forward by whole TOTP periods.

    When a journey has used the codes of this window and the next, the next window begins now
    instead of in up to 30 seconds: the server then accepts the codes an app would show then.
    """

    def __init__(self) -> None:
        self.steps = 0

    def time(self) -> float:
        from allauth.mfa import app_settings as mfa_settings

        return time.time() + self.steps * mfa_settings.TOTP_PERIOD

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@dataclass
class Step:
    number: int
    name: str
    seconds: float
    url: str


@dataclass
class Journey:
    """One persona's walk: a browser context, its step log and what went wrong on the way."""

    name: str
    base: str
    context: Any
    page: Any
    steps: list[Step] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    expected_statuses: list[tuple[re.Pattern[str], int]] = field(default_factory=list)
    checked_links: set[str] = field(default_factory=set)
    used_codes: dict[str, set[str]] = field(default_factory=dict)
    clock: TotpClock = field(default_factory=TotpClock)
    finished: bool = False
    axe: AxeGate = field(default_factory=AxeGate)
    started: float = field(default_factory=time.monotonic)
    _last: float = field(default_factory=time.monotonic)

    # --- wiring ------------------------------------------------------------------------

    def watch(self, page: Any) -> None:
        page.on("console", lambda msg: self._console(msg))
        page.on("pageerror", lambda exc: self.problems.append(f"page error on {page.url}: {exc}"))
        page.on("requestfailed", lambda req: self._request_failed(req))
        page.on("response", lambda resp: self._response(resp))
        self.axe.watch(page)  # axe-core checks each page before the journey leaves it

    def _console(self, msg: Any) -> None:
        if msg.type == "error":
            where = (msg.location or {}).get("url") or (msg.page.url if msg.page else "?")
            # The browser also logs an error response the journey provoked on purpose (expect_status).
            status = re.search(r"status of (\d{3})", msg.text)
            if status and any(
                p.search(where) and s == int(status.group(1)) for p, s in self.expected_statuses
            ):
                return
            self.problems.append(f"console error at {where}: {msg.text}")

    def _request_failed(self, req: Any) -> None:
        failure = req.failure or ""
        # A download ends the navigation that started it; that is not a failure the person sees.
        if "net::ERR_ABORTED" in failure and req.is_navigation_request():
            return
        self.problems.append(f"request failed: {req.method} {req.url} ({failure})")

    def _response(self, resp: Any) -> None:
        if resp.status < 400:
            return
        for pattern, status in self.expected_statuses:
            if status == resp.status and pattern.search(resp.url):
                return
        self.problems.append(f"HTTP {resp.status} for {resp.request.method} {resp.url}")

    def expect_status(self, url_pattern: str, status: int) -> None:
        """Declare an error response the journey provokes on purpose (a wrong code, say)."""
        self.expected_statuses.append((re.compile(url_pattern), status))

    # --- steps -------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return urljoin(self.base + "/", path.lstrip("/"))

    def goto(self, path_or_url: str) -> Any:
        target = path_or_url if path_or_url.startswith("http") else self.url(path_or_url)
        self.axe.check(self.page)  # the page being left, if the load handler has not finished
        response = self.page.goto(target)
        self.page.wait_for_load_state("load")
        return response

    def step(self, name: str, *, check_links: bool = True, check_dates: bool = True) -> None:
        """Close a step: look at the page as the person would, screenshot it, record its time."""
        page = self.page
        page.wait_for_load_state("load")
        self.axe.check(page)
        number = len(self.steps) + 1
        folder = ARTIFACTS / self.name
        folder.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        page.screenshot(path=str(folder / f"{number:02d}-{slug}.png"), full_page=True)
        self.assert_no_server_paths()
        if check_dates:
            self.assert_readable_dates()
        self.assert_images_load()
        if check_links:
            self.assert_links_open()
        if not self.steps:
            self.assert_favicon()
        now = time.monotonic()
        where = re.sub(
            r"/[\w-]{20,}", "/…", page.url.removeprefix(self.base)
        )  # no secrets from links in the log
        self.steps.append(Step(number, name, now - self._last, where))
        self._last = time.monotonic()

    # --- what the eyes check -----------------------------------------------------------

    def visible_text(self) -> str:
        return self.page.locator("body").inner_text()

    def assert_no_server_paths(self) -> None:
        text = self.visible_text()
        refs = self.page.evaluate(
            "[...document.querySelectorAll('a[href], img[src], link[href], script[src], form[action]')]"
            ".map(e => e.getAttribute('href') || e.getAttribute('src') || e.getAttribute('action') || '')"
        )
        for marker in server_path_markers():
            assert marker not in text, (
                f"{self.page.url} shows a server path ({marker!r}) in its text"
            )
            leaked = [r for r in refs if marker in r]
            assert not leaked, f"{self.page.url} links to server paths: {leaked}"

    def assert_readable_dates(self) -> None:
        raw = RAW_TIMESTAMP.findall(self.visible_text())
        assert not raw, f"{self.page.url} shows raw timestamps: {raw[:5]}"

    def assert_fits(self, width: int = 375) -> None:
        """The page reads on a phone: nothing sticks out sideways at ``width`` pixels."""
        self.page.set_viewport_size({"width": width, "height": 800})
        try:
            scroll = self.page.evaluate("document.documentElement.scrollWidth")
            if scroll > width:
                self.page.screenshot(
                    path=str(ARTIFACTS / self.name / f"overflow-{width}px.png"), full_page=True
                )
            assert scroll <= width, f"{self.page.url} is {scroll} px wide on a {width} px screen"
        finally:
            self.page.set_viewport_size({"width": 1280, "height": 800})

    def assert_charts_readable(self) -> None:
        """Chart labels and values sit inside their chart and do not overlap one another."""
        problems = self.page.evaluate(
            """() => {
              const out = [];
              for (const svg of document.querySelectorAll('svg')) {
                const box = svg.getBoundingClientRect();
                const texts = [...svg.querySelectorAll('text')].filter(t => t.textContent.trim())
                  .map(t => ({t: t.textContent.trim(), r: t.getBoundingClientRect()}));
                for (const {t, r} of texts) {
                  if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1)
                    out.push(`"${t}" sticks out of its chart`);
                }
                for (let i = 0; i < texts.length; i++) for (let j = i + 1; j < texts.length; j++) {
                  const a = texts[i].r, b = texts[j].r;
                  if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1)
                    out.push(`"${texts[i].t}" overlaps "${texts[j].t}"`);
                }
              }
              return out;
            }"""
        )
        assert not problems, f"{self.page.url}: " + "; ".join(problems[:10])

    def assert_secret_stable(self, secret: str) -> None:
        """The secret the person scans stays the one to activate, whatever else the browser loads."""
        self.page.reload()
        again = self.page.locator("#authenticator_secret").input_value()
        assert again == secret, "the pending secret changed when the page was loaded again"

    def assert_login_page(self) -> None:
        forgot = self.page.get_by_role("link", name=re.compile("forgot", re.I)).count()
        assert forgot == 1, f"the login page has {forgot} forgotten-password links"

    def assert_no_password_prompt(self, when: str) -> None:
        assert "/accounts/reauthenticate/" not in self.page.url, (
            f"asked for the password again {when}"
        )

    def assert_favicon(self) -> None:
        """The icon the browser asks for by itself is a real image, not a redirect or a 404."""
        href = self.page.evaluate(
            "(document.querySelector('link[rel~=icon]') || {}).href || ''"
        ) or self.url("/favicon.ico")
        response = self.context.request.get(href, max_redirects=0)
        assert response.status == 200, f"the favicon {href} answers {response.status}"
        assert response.headers.get("content-type", "").startswith("image/"), response.headers.get(
            "content-type"
        )

    def wait_for_images(self, seconds: float = 30) -> None:
        """Until every image has loaded or failed (polled from here: the site's CSP forbids eval in the page)."""
        deadline = time.monotonic() + seconds
        while not self.page.evaluate("() => [...document.images].every(i => i.complete)"):
            assert time.monotonic() < deadline, (
                f"images on {self.page.url} still loading after {seconds} s"
            )
            time.sleep(0.1)

    def assert_images_load(self) -> None:
        self.wait_for_images()
        broken = self.page.evaluate(
            "[...document.images].filter(i => i.complete && i.naturalWidth === 0).map(i => i.getAttribute('src'))"
        )
        assert not broken, f"{self.page.url} has images that do not load: {broken}"

    def assert_links_open(self) -> None:
        """Every same-site link on the page answers 200 (followed as the logged-in person)."""
        hrefs = self.page.evaluate("[...document.querySelectorAll('a[href]')].map(a => a.href)")
        for href in hrefs:
            href = href.split("#", 1)[0]
            if (
                not href
                or href in self.checked_links
                or urlsplit(href).netloc != urlsplit(self.base).netloc
            ):
                continue
            self.checked_links.add(href)
            response = self.context.request.get(href, max_redirects=5)
            assert response.status == 200, (
                f"the link {href} on {self.page.url} answers {response.status}"
            )

    # --- people's actions ----------------------------------------------------------------

    @staticmethod
    def found(pattern: str, text: str, group: int = 0) -> str:
        """The part of ``text`` that ``pattern`` finds; fails saying what was expected where."""
        match = re.search(pattern, text)
        assert match, f"{pattern!r} not found in: {text[:500]}"
        return match.group(group)

    def totp_code(self, secret: str) -> str:
        """A code from the authenticator app: never one the server has already taken."""
        used = self.used_codes.setdefault(secret, set())
        for offset in (0, 1):
            code = factories.totp_code(secret, self.clock.steps + offset)
            if code not in used:
                used.add(code)
                return code
        self.clock.steps += 1  # the next window, now (no 30-second wait)
        return self.totp_code(secret)

    def log_in(
        self, email: str, password: str = factories.PASSWORD, *, totp_secret: str | None = None
    ) -> None:
        page = self.page
        self.goto("/accounts/login/")
        self.assert_login_page()
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state("load")
        if totp_secret is not None:
            page.get_by_role("heading", name="Two-Factor Authentication").wait_for()
            page.get_by_label(re.compile("Code", re.I)).fill(self.totp_code(totp_secret))
            page.get_by_role("button", name=re.compile("Sign In|Log in", re.I)).click()
            page.wait_for_load_state("load")
        assert "/accounts/login/" not in page.url, f"login failed: {self.visible_text()[:500]}"

    def enrol_totp(self) -> str:
        """Set up the authenticator app from the secret shown on the page; returns the secret."""
        page = self.page
        if "/accounts/2fa/totp/activate/" not in page.url:
            self.goto("/accounts/2fa/totp/activate/")
        secret = page.locator("#authenticator_secret").input_value()
        assert re.fullmatch(r"[A-Z2-7]{16,}", secret), secret
        self.assert_secret_stable(secret)
        secret = page.locator("#authenticator_secret").input_value()
        self.step(
            "two-factor setup page", check_links=False
        )  # a GET of the page must not matter, but keep it clean
        page.get_by_label(re.compile("Authenticator code", re.I)).fill(self.totp_code(secret))
        page.get_by_role("button", name="Activate").click()
        page.wait_for_load_state("load")
        assert "Incorrect code" not in self.visible_text(), (
            "the code from the secret shown on the page was refused"
        )
        self.assert_no_password_prompt("right after enrolling")
        assert "/accounts/2fa/totp/activate/" not in page.url, self.visible_text()[:500]
        return secret

    def log_out(self) -> None:
        self.page.get_by_role("button", name=re.compile("^Log out")).click()
        self.page.wait_for_load_state("load")

    def email_link(self, to: str, path_prefix: str, *, subject: str = "") -> str:
        """The link to ``path_prefix`` in the newest email to ``to`` (whose subject holds ``subject``).

        The link must point at this server: a person clicks it as it is.
        """
        for message in reversed(mail.outbox):
            if to in message.to and subject in message.subject:
                links = re.findall(r"https?://[^\s<>\"']+", str(message.body))
                wanted = [u for u in links if urlsplit(u).path.startswith(path_prefix)]
                if wanted:
                    assert wanted[0].startswith(self.base + "/"), (
                        f"the emailed link {wanted[0]} does not open this site"
                    )
                    return wanted[0]
        bodies = "\n---\n".join(f"{m.subject}\n{m.body}" for m in mail.outbox if to in m.to)
        raise AssertionError(f"no email to {to} links to {path_prefix}:\n{bodies}")

    def assert_emails_fit(self, to: str) -> None:
        """Every email to ``to``: its links to this site open this site, and none asks for a reply by email."""
        messages = [m for m in mail.outbox if to in m.to]
        assert messages, f"no email was sent to {to}"
        here = urlsplit(self.base).netloc
        for message in messages:
            body = str(message.body)
            for link in re.findall(r"https?://[^\s<>\"']+", body):
                host = urlsplit(link).hostname or ""
                if host in ("localhost", "127.0.0.1", "testserver") or host.endswith(".local"):
                    assert urlsplit(link).netloc == here, (
                        f"{message.subject!r} links to {link}, not to {self.base}"
                    )
            asks_reply = re.search(r"reply to (this|the|our) (e-?mail|message)", body, re.I)
            assert not asks_reply, f"{message.subject!r} asks for a reply by email"

    # --- the end -----------------------------------------------------------------------

    def finish(self) -> None:
        """The journey is over: nothing went wrong on the way that the person would have seen."""
        self.finished = True
        assert not self.problems, (
            f"{self.name}: console errors, failed requests or HTTP errors:\n"
            + "\n".join(self.problems)
        )

    def report(self) -> str:
        total = time.monotonic() - self.started
        lines = [f"Journey {self.name}: {len(self.steps)} steps, {total:.1f} s"]
        lines += [f"  {s.number:2d}. {s.name} ({s.seconds:.1f} s) {s.url}" for s in self.steps]
        return "\n".join(lines)


@pytest.fixture
def journey_factory(live_server, settings, monkeypatch) -> Iterator[Callable[[str], Journey]]:
    """Opens chromium; ``journey_factory("name")`` gives a fresh browser context (a new person)."""
    import allauth.mfa.totp.internal.auth as allauth_totp

    clock = TotpClock()
    monkeypatch.setattr(allauth_totp, "time", clock)
    # Playwright's sync API runs an event loop in this thread; the ORM calls from the test body
    # are still synchronous and safe here.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    # As `make run` does: links in emails point at the address the site is served from.
    settings.SITE_URL = live_server.url
    from playwright.sync_api import sync_playwright

    journeys: list[Journey] = []
    with sync_playwright() as pw:
        django_connections_checked()
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)

        def make(name: str) -> Journey:
            shutil.rmtree(ARTIFACTS / name, ignore_errors=True)  # only this run's screenshots
            context = browser.new_context(
                viewport={"width": 1280, "height": 800}, accept_downloads=True
            )
            context.set_default_timeout(30_000)
            page = context.new_page()
            journey = Journey(
                name=name, base=live_server.url, context=context, page=page, clock=clock
            )
            journey.watch(page)
            journeys.append(journey)
            return journey

        try:
            yield make
        finally:
            for journey in journeys:
                folder = ARTIFACTS / journey.name
                folder.mkdir(parents=True, exist_ok=True)
                if not journey.finished:  # stopped on the way: keep what the person saw last
                    journey.page.screenshot(path=str(folder / "last-seen.png"), full_page=True)
                report = journey.report()
                print(report)
                (folder / "steps.txt").write_text(report + "\n")
                journey.axe.check(journey.page)  # the page the journey ended on
                (folder / "axe.txt").write_text(journey.axe.report() + "\n")
            browser.close()
        assert_accessible({j.name: j.axe for j in journeys})


@pytest.fixture
def journey(request, journey_factory) -> Journey:
    """A journey named after the test module (test_journey_dpo.py -> dpo)."""
    name = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_journey_")
    return journey_factory(name)
