"""Hostile input to the crawler: XML bombs and external entities in sitemaps, DNS rebinding, loopback names."""

from __future__ import annotations

import ipaddress
import socket
import ssl

import pytest

from crawling import fetcher as fetcher_module
from crawling import services
from crawling.fetcher import Fetcher, FetchRefused, pinned_request
from crawling.models import CrawlItem, CrawlJob
from search.models import SourceImage
from tests.crawling.site import serve
from tests.crawling.test_crawl import add_source, run_to_end

pytestmark = pytest.mark.django_db(transaction=True)

BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b']><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>{base}/from-sitemap.html&lol9;</loc></url></urlset>'
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY secret SYSTEM "{base}/private/leak.txt">]>'
    b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>{base}/from-sitemap.html</loc></url>'
    b"<url><loc>&secret;</loc></url></urlset>"
)
EXTERNAL_DTD = (
    b'<?xml version="1.0"?><!DOCTYPE urlset SYSTEM "{base}/evil.dtd">'
    b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>{base}/from-sitemap.html</loc></url></urlset>'
)


@pytest.fixture(autouse=True)
def _run_in_process(monkeypatch):
    from crawling import tasks
    from search import tasks as search_tasks

    monkeypatch.setattr(tasks.crawl_job_run, "delay", lambda *args, **kwargs: None)
    monkeypatch.setattr(search_tasks.source_images_analyse, "delay", lambda *args, **kwargs: None)


@pytest.fixture
def site():
    with serve() as running:
        # A small site: the sitemap is what these tests are about.
        running.routes["/"] = (
            200,
            {"Content-Type": "text/html"},
            b'<html><body><img src="/img/a.jpg"></body></html>',
        )
        yield running


@pytest.mark.parametrize(
    ("sitemap", "reason"),
    [
        pytest.param(BILLION_LAUGHS, "sitemap_unsafe_xml", id="billion-laughs-entity-expansion"),
        pytest.param(EXTERNAL_ENTITY, "sitemap_unsafe_xml", id="external-entity-xxe"),
        pytest.param(EXTERNAL_DTD, "sitemap_unsafe_xml", id="external-dtd"),
        pytest.param(
            b"<urlset><url><loc>{base}/from-sitemap.html", "sitemap_malformed", id="truncated-xml"
        ),
    ],
)
def test_a_hostile_sitemap_is_refused_and_recorded_and_the_crawl_goes_on(
    site, dpo, sitemap, reason
):
    site.routes["/sitemap.xml"] = (200, {"Content-Type": "application/xml"}, sitemap)
    job = services.crawl_job_create(source=add_source(site, approve_as=dpo))
    run_to_end(job)
    job.refresh_from_db()
    assert job.status == CrawlJob.Status.DONE
    assert job.skipped.get(reason) == 1, job.skipped
    item = CrawlItem.objects.get(job=job, url=f"{site.base}/sitemap.xml")
    assert (item.status, item.reason) == (CrawlItem.Status.SKIPPED, reason)
    # Nothing the sitemap names or references was fetched; the rest of the site was crawled.
    assert site.hits["/from-sitemap.html"] == 0
    assert site.hits["/private/leak.txt"] == 0 and site.hits["/evil.dtd"] == 0
    assert SourceImage.objects.filter(image_url=f"{site.base}/img/a.jpg").exists()


def test_a_well_formed_sitemap_is_still_read(site, dpo):
    """The control for the test above: the stock sitemap's page is crawled."""
    run_to_end(services.crawl_job_create(source=add_source(site, approve_as=dpo)))
    assert site.hits["/from-sitemap.html"] == 1


def _only(name: str, answer: str, real=socket.getaddrinfo):
    def getaddrinfo(host, port, *args, **kwargs):
        return real(answer if host == name else host, port, *args, **kwargs)

    return getaddrinfo


def test_dns_rebinding_the_connection_goes_to_the_address_the_check_approved(site, monkeypatch):
    """The SSRF check's lookup answers the site's address; any later lookup answers the cloud metadata
    address. A fetcher that looked the name up again would connect there (and time out)."""
    checked: list[str] = []
    real_resolve = fetcher_module.resolve

    def check_lookup(host: str, port: int):
        checked.append(host)
        return real_resolve("127.0.0.1" if host == "rebind.test" else host, port)

    monkeypatch.setattr(fetcher_module, "resolve", check_lookup)
    monkeypatch.setattr(socket, "getaddrinfo", _only("rebind.test", "169.254.169.254"))
    port = site.server.server_address[1]
    base = f"http://rebind.test:{port}"
    crawler = Fetcher(scope=[base + "/"], rate=0, timeout=2)
    try:
        page = crawler.fetch(
            base + "/redirect-in"
        )  # a redirect: the second hop is checked and pinned too
        image = crawler.fetch(base + "/img/a.jpg")
    finally:
        crawler.close()
    assert page.status == 200 and page.url == base + "/page1.html"
    assert image.status == 200 and image.body[:2] == b"\xff\xd8"
    # Every request reached the approved address, named by its original host.
    assert site.hosts and set(site.hosts) == {f"rebind.test:{port}"}
    assert site.hits["/redirect-in"] == 1 and site.hits["/page1.html"] == 1
    assert checked.count("rebind.test") >= 3  # robots/tdm, first hop, redirect hop: each checked


def test_pinned_request_keeps_the_name_for_host_and_tls():
    target, headers, extensions = pinned_request(
        "https://bücher.example:8443/a%20b?q=1#top", "203.0.113.7"
    )
    assert str(target) == "https://203.0.113.7:8443/a%20b?q=1"
    assert headers == {"Host": "xn--bcher-kva.example:8443"}
    assert extensions == {"sni_hostname": "xn--bcher-kva.example"}
    target, headers, extensions = pinned_request("http://example.org/x", "2001:db8::1")
    assert (
        str(target) == "http://[2001:db8::1]/x"
        and headers == {"Host": "example.org"}
        and extensions == {}
    )


def test_a_name_that_resolves_to_loopback_is_refused_though_the_source_is_approved(
    site, dpo, settings, monkeypatch
):
    """The source is approved and the URL is in its scope, but its name points at this machine."""
    settings.CRAWL_ALLOW_LOOPBACK = False
    monkeypatch.setattr(socket, "getaddrinfo", _only("sneaky.test", "127.0.0.1"))
    port = site.server.server_address[1]
    source = services.source_add(
        name="Sneaky",
        scope=[f"http://sneaky.test:{port}/"],
        jurisdictions=["FR"],
        lawful_basis="legitimate_interests",
        art9_condition="manifestly_public",
        dpia_reference="DPIA-9",
    )
    services.source_approve(source=source, actor=dpo)
    job = services.crawl_job_create(source=source)
    run_to_end(job)
    job.refresh_from_db()
    assert job.status == CrawlJob.Status.DONE
    assert job.skipped.get("loopback_address") == 1, job.skipped
    assert CrawlItem.objects.get(job=job).reason == "loopback_address"
    assert site.hits.total() == 0


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param("127.0.0.1", id="ipv4-loopback"),
        pytest.param("::ffff:127.0.0.1", id="ipv4-mapped-ipv6-loopback"),
    ],
)
def test_check_refuses_loopback_answers(settings, monkeypatch, answer):
    settings.CRAWL_ALLOW_LOOPBACK = False
    monkeypatch.setattr(
        fetcher_module, "resolve", lambda host, port: [ipaddress.ip_address(answer)]
    )
    with pytest.raises(FetchRefused) as exc:
        fetcher_module.check_address("http://innocent.example/")
    assert exc.value.code == "loopback_address"


def _tls_contexts(name: str, tmp_path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A throwaway CA and a certificate for ``name`` only: (server context, client context trusting the CA)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (tmp_path / "leaf.pem").write_bytes(leaf.public_bytes(pem))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp_path / "leaf.pem", tmp_path / "key.pem")
    client = ssl.create_default_context(cadata=ca.public_bytes(pem).decode())
    return server, client


def test_https_is_pinned_too_with_sni_and_the_certificate_checked_against_the_name(
    monkeypatch, tmp_path
):
    """Over https the fetcher connects to the approved IP, sends the name as SNI and Host, and verifies the
    certificate against the name (not the IP). A certificate for another name is refused."""
    server_ctx, client_ctx = _tls_contexts("rebind.test", tmp_path)
    names: list[str | None] = []
    server_ctx.sni_callback = lambda sock, name, ctx: names.append(name)
    monkeypatch.setattr(
        fetcher_module, "resolve", lambda host, port: [ipaddress.ip_address("127.0.0.1")]
    )
    monkeypatch.setattr(socket, "getaddrinfo", _only("rebind.test", "169.254.169.254"))
    with serve(tls=server_ctx) as site:
        port = site.server.server_address[1]
        crawler = Fetcher(
            scope=[f"https://rebind.test:{port}/"], rate=0, timeout=2, verify=client_ctx
        )
        other = Fetcher(scope=[f"https://other.test:{port}/"], rate=0, timeout=2, verify=client_ctx)
        try:
            response = crawler.fetch(f"https://rebind.test:{port}/img/a.jpg")
            with pytest.raises(
                FetchRefused
            ) as exc:  # bad input: a name the certificate does not cover
                other._get(f"https://other.test:{port}/img/a.jpg")
        finally:
            crawler.close()
            other.close()
    assert response.status == 200 and response.body[:2] == b"\xff\xd8"
    assert set(names) == {
        "rebind.test",
        "other.test",
    }  # the name, never the IP, in each TLS handshake
    assert site.hosts == [f"rebind.test:{port}"] * len(site.hosts) and site.hits["/img/a.jpg"] == 1
    assert exc.value.code == "http_error"
