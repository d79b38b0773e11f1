"""HTTP for the crawler: SSRF guard, robots.txt, opt-out signals, size and time limits.

No cookies, no logins, no JavaScript. Redirects are followed by hand, one hop at a time, and
only while they stay inside the source's scope; every hop passes the SSRF guard.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import unquote, urljoin, urlsplit

import httpx
from django.conf import settings
from django.core.cache import cache
from protego import Protego

OPT_OUT_TOKENS = {"noimageindex", "noai", "noimageai"}


class FetchRefused(Exception):
    """Not fetched, for a reason recorded as a skip reason (``code``)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


def user_agent() -> str:
    return f"FaceSearchBot/1.0 (+{settings.SITE_URL.rstrip('/')}/rights/)"


def resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Every address ``host`` resolves to: the one lookup the SSRF check trusts."""
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    # Drop an IPv6 zone ("fe80::1%eth0"): the address itself is what is checked.
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


# Special-purpose blocks (IANA registries) that are not globally reachable. Python's ``is_global`` misses
# some of them on the versions we run (192.0.0.8 on 3.11, for one), so they are listed here as well.
_NOT_GLOBAL = [
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "255.255.255.255/32",
        "::/128",
        "::1/128",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "3fff::/20",
        "5f00::/16",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries and can reach: IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible
    (::a.b.c.d), 6to4 (2002:aabb:ccdd::), Teredo (server and client) and NAT64 (64:ff9b::a.b.c.d)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped:
        found.append(address.ipv4_mapped)
    if address.sixtofour:
        found.append(address.sixtofour)
    if address.teredo:
        found.extend(address.teredo)
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def _refusal(address: IPAddress) -> str:
    """The skip reason for an address the crawler must not connect to, or '' when it is globally reachable."""
    if address.is_loopback:
        return "loopback_address"
    if address.is_link_local:
        return "link_local_address"
    if address.is_multicast:
        return "multicast_address"
    if (
        not address.is_global
        or address.is_private
        or address.is_reserved
        or address.is_unspecified
        or any(address in network for network in _NOT_GLOBAL if network.version == address.version)
    ):
        return "private_address"
    return ""


def address_refusal(address: IPAddress) -> str:
    """Why the crawler may not connect to ``address`` ('' when it may): anything not globally reachable, itself or
    through the IPv4 address it embeds. Loopback passes only with the test setting CRAWL_ALLOW_LOOPBACK.

    An IPv4-mapped, IPv4-compatible or NAT64 address is only a way of writing its IPv4 address, so that address
    decides; a 6to4 or Teredo address is judged both as itself and by the IPv4 address it tunnels to."""
    embedded = embedded_ipv4(address)
    is_wrapper = isinstance(address, ipaddress.IPv6Address) and bool(
        address.ipv4_mapped
        or address in _NAT64
        or (address in _IPV4_COMPATIBLE and int(address) > 1)
    )
    for candidate in embedded if is_wrapper else (*embedded, address):
        reason = _refusal(candidate)
        if reason == "loopback_address" and settings.CRAWL_ALLOW_LOOPBACK:
            continue
        if reason:
            return reason
    return ""


def check_address(url: str) -> str:
    """Refuse URLs whose host resolves to any address that is not globally reachable (private, shared, loopback,
    link-local, multicast, reserved, documentation, or an IPv6 form embedding one of those).

    Every address the name resolves to is checked, and the address returned is the one the connection must go
    to: the fetcher connects to it rather than looking the name up again, so a DNS answer that changes between
    the check and the connection (DNS rebinding) cannot steer the crawler to an address the check never saw.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchRefused("bad_scheme", parts.scheme)
    if parts.username or parts.password or "@" in parts.netloc:
        raise FetchRefused("credentials_in_url")
    host = parts.hostname
    if not host:
        raise FetchRefused("bad_url")
    try:
        addresses = resolve(host, parts.port or (443 if parts.scheme == "https" else 80))
    except (OSError, UnicodeError, ValueError) as exc:
        raise FetchRefused("dns_failed", host) from exc
    if not addresses:
        raise FetchRefused("dns_failed", host)
    for address in addresses:
        reason = address_refusal(address)
        if reason:
            raise FetchRefused(reason, str(address))
    return str(addresses[0])


def pinned_request(url: str, address: str) -> tuple[httpx.URL, dict[str, str], dict[str, object]]:
    """The URL to connect to ``address`` (the one the SSRF check approved), with the original name sent as
    the Host header and, for https, as the TLS server name (SNI, which the certificate is verified against)."""
    original = httpx.URL(url)
    target = original.copy_with(host=address, fragment=None)
    headers = {"Host": original.netloc.decode("ascii")}
    extensions: dict[str, object] = (
        {"sni_hostname": original.raw_host.decode("ascii")} if original.scheme == "https" else {}
    )
    return target, headers, extensions


@dataclass(frozen=True)
class Location:
    """A URL reduced to what scope is decided on: scheme, host (IDNA, lower case), port (default filled in) and
    the path's segments (dot-segments resolved, percent-encoding decoded)."""

    scheme: str
    host: str
    port: int
    segments: tuple[str, ...]

    def covers(self, other: Location) -> bool:
        """Same origin, and this path's whole segments start the other's ('/news' covers '/news/a', not '/newsletter')."""
        return (self.scheme, self.host, self.port) == (other.scheme, other.host, other.port) and (
            other.segments[: len(self.segments)] == self.segments
        )


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _idna_host(host: str) -> str:
    host = host.rstrip(".").lower()
    try:
        return host.encode("idna").decode("ascii").lower() if not host.isascii() else host
    except UnicodeError as exc:
        raise ValueError(host) from exc


def _segments(path: str) -> tuple[str, ...]:
    """RFC 3986 dot-segment removal after percent-decoding each segment ('%2e%2e' is '..'); a backslash counts as a
    slash, as browsers and many servers read it. Empty segments (a trailing or doubled slash) carry no scope."""
    out: list[str] = []
    for raw in path.replace("\\", "/").split("/"):
        segment = unquote(raw)
        if segment in ("", "."):
            continue
        if segment == "..":
            if out:
                out.pop()
            continue
        out.append(segment)
    return tuple(out)


def url_location(url: str) -> Location | None:
    """The URL's :class:`Location`, or None when it cannot be in any scope (not http(s), no host, a user name or
    password in it, a malformed port or host)."""
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or "@" in parts.netloc or not parts.hostname:
            return None
        port = parts.port or _DEFAULT_PORTS[scheme]
        return Location(
            scheme=scheme,
            host=_idna_host(parts.hostname),
            port=port,
            segments=_segments(parts.path),
        )
    except ValueError:
        return None


def scope_prefix_error(prefix: str) -> str:
    """Why ``prefix`` cannot be a source's scope ('' when it can)."""
    parts = urlsplit(prefix.strip())
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        return "Give http(s) URL prefixes, such as https://news.example.org/photos/."
    if "@" in parts.netloc:
        return "A scope URL cannot hold a user name or password."
    if url_location(prefix) is None:
        return "This scope URL has a malformed host or port."
    return ""


def in_scope(url: str, scope: list[str]) -> bool:
    """Whether ``url`` is inside one of the scope's prefixes: same scheme, host and port, and the prefix's whole path
    segments (the one check for the crawler, its redirects and sitemaps, and the source form)."""
    location = url_location(url)
    if location is None:
        return False
    return any(
        prefix is not None and prefix.covers(location) for prefix in map(url_location, scope)
    )


@dataclass
class Response:
    url: str
    status: int
    headers: httpx.Headers
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def robots_tokens(self) -> set[str]:
        values = self.headers.get_list("x-robots-tag")
        return {t.strip().lower() for v in values for t in v.replace(";", ",").split(",")}


@dataclass
class Fetcher:
    """One per crawl job: per-host politeness, robots.txt and TDM reservations cached per host."""

    scope: list[str]
    rate: float = 1.0
    timeout: float = 10.0
    max_bytes: int = 20 * 1024 * 1024
    verify: ssl.SSLContext | bool = True  # certificate verification (the tests pass their own CA)
    _clients: dict[str, httpx.Client] = field(default_factory=dict, init=False)
    _robots: dict[str, Protego | None] = field(default_factory=dict, init=False)
    _tdm: dict[str, list[dict[str, object]]] = field(default_factory=dict, init=False)
    _last: dict[str, float] = field(default_factory=dict, init=False)

    def _client_for(self, host: str) -> httpx.Client:
        """One client per host name: connections go to an IP, so a pooled connection (and its TLS session,
        verified for one name) must never carry another name's requests."""
        if host not in self._clients:
            self._clients[host] = httpx.Client(
                headers={"User-Agent": user_agent()},
                timeout=httpx.Timeout(self.timeout, connect=self.timeout),
                follow_redirects=False,
                verify=self.verify,
                trust_env=False,  # no proxy from the environment: the connection goes to the checked address only
                limits=httpx.Limits(max_connections=4, max_keepalive_connections=4),
            )
        return self._clients[host]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def _wait_turn(self, host: str) -> None:
        if self.rate <= 0:
            return
        gap = 1.0 / self.rate
        last = self._last.get(host)
        if last is not None:
            delay = last + gap - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        self._last[host] = time.monotonic()

    def _get(self, url: str, *, max_bytes: int | None = None) -> Response:
        limit = max_bytes or self.max_bytes
        for _hop in range(6):
            address = check_address(url)
            host = urlsplit(url).netloc
            self._wait_turn(host)
            client = self._client_for(host)
            client.cookies.clear()  # no cookies are sent back
            deadline = time.monotonic() + self.timeout * 3
            target, headers, extensions = pinned_request(url, address)
            try:
                with client.stream(
                    "GET", target, headers=headers, extensions=extensions
                ) as response:
                    if response.is_redirect:
                        target = urljoin(url, response.headers.get("location", ""))
                        if not in_scope(target, self.scope):
                            raise FetchRefused("redirect_out_of_scope", target)
                        url = target
                        continue
                    declared = response.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > limit:
                        raise FetchRefused("too_large", declared)
                    chunks, size = [], 0
                    for chunk in response.iter_bytes():
                        size += len(chunk)
                        if size > limit:
                            raise FetchRefused("too_large", f">{limit}")
                        if time.monotonic() > deadline:
                            raise FetchRefused("timeout", "response too slow")
                        chunks.append(chunk)
                    return Response(
                        url=url,
                        status=response.status_code,
                        headers=response.headers,
                        body=b"".join(chunks),
                    )
            except httpx.TimeoutException as exc:
                raise FetchRefused("timeout", url) from exc
            except httpx.HTTPError as exc:
                raise FetchRefused("http_error", type(exc).__name__) from exc
        raise FetchRefused("too_many_redirects", url)

    # --- robots.txt and TDM reservation -------------------------------------------

    def _robots_for(self, url: str) -> Protego | None:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._robots:
            try:
                response = self._get(origin + "/robots.txt", max_bytes=512 * 1024)
                text = response.body.decode("utf-8", "replace") if response.status == 200 else ""
                # 4xx: no rules; 5xx: be careful and treat everything as disallowed.
                self._robots[origin] = (
                    Protego.parse(text)
                    if response.status < 500
                    else Protego.parse("User-agent: *\nDisallow: /")
                )
            except FetchRefused:
                self._robots[origin] = None
        return self._robots[origin]

    def allowed_by_robots(self, url: str) -> bool:
        robots = self._robots_for(url)
        return robots is None or robots.can_fetch(url, user_agent())

    def tdm_reserved(self, url: str) -> bool:
        """A TDM reservation in /.well-known/tdmrep.json covering this URL's path."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._tdm:
            key = f"crawl:tdmrep:{origin}"
            rules: list[dict[str, object]] | None = cache.get(key)
            if rules is None:
                rules = []
                try:
                    response = self._get(origin + "/.well-known/tdmrep.json", max_bytes=256 * 1024)
                    if response.status == 200:
                        data = json.loads(response.body)
                        rules = (
                            [r for r in data if isinstance(r, dict)]
                            if isinstance(data, list)
                            else []
                        )
                except (FetchRefused, ValueError):
                    rules = []
                cache.set(key, rules, timeout=3600)
            self._tdm[origin] = rules
        for rule in self._tdm[origin]:
            location = str(rule.get("location", ""))
            pattern = location.rstrip("*")
            if str(rule.get("tdm-reservation")) == "1" and parts.path.startswith(pattern or "/"):
                return True
        return False

    def fetch(self, url: str, *, max_bytes: int | None = None) -> Response:
        """Fetch ``url`` if robots.txt allows it and no TDM reservation covers it."""
        if not in_scope(url, self.scope):
            raise FetchRefused("out_of_scope", url)
        check_address(url)
        if not self.allowed_by_robots(url):
            raise FetchRefused("robots_disallow", url)
        if self.tdm_reserved(url):
            raise FetchRefused("tdm_reservation", url)
        response = self._get(url, max_bytes=max_bytes)
        if response.headers.get("tdm-reservation", "").strip() == "1":
            raise FetchRefused("tdm_reservation", url)
        return response
