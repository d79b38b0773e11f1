"""What the crawler reads from a page: images, links, language, robots meta; and sitemaps."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urldefrag, urljoin
from xml.etree.ElementTree import ParseError

from bs4 import BeautifulSoup
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as safe_fromstring


@dataclass
class PageFacts:
    images: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    lang: str = ""
    robots: set[str] = field(default_factory=set)


def _srcset(value: str) -> list[str]:
    return [part.strip().split(" ")[0] for part in value.split(",") if part.strip()]


def _absolute(base: str, href: str) -> str | None:
    href = (href or "").strip()
    if not href or href.startswith(("data:", "javascript:", "mailto:", "tel:", "#")):
        return None
    return urldefrag(urljoin(base, href))[0]


def page_facts(url: str, html: bytes) -> PageFacts:
    soup = BeautifulSoup(html, "html.parser")
    facts = PageFacts()
    root = soup.find("html")
    facts.lang = str(root.get("lang", "")) if root else ""  # type: ignore[union-attr]
    for meta in soup.find_all("meta"):
        name = str(meta.get("name", "")).lower()
        if name in ("robots", "facesearchbot"):
            facts.robots |= {t.strip().lower() for t in str(meta.get("content", "")).split(",")}
        if str(meta.get("property", "")).lower() == "og:image" and meta.get("content"):
            facts.images.append(str(meta["content"]))
    for img in soup.find_all("img"):
        if img.get("src"):
            facts.images.append(str(img["src"]))
        if img.get("srcset"):
            facts.images.extend(_srcset(str(img["srcset"])))
    for source in soup.select("picture source"):
        if source.get("srcset"):
            facts.images.extend(_srcset(str(source["srcset"])))
    for a in soup.find_all("a"):
        if str(a.get("rel", "")).lower().find("nofollow") >= 0:
            continue
        if a.get("href"):
            facts.links.append(str(a["href"]))
    facts.images = list(dict.fromkeys(u for u in (_absolute(url, i) for i in facts.images) if u))
    facts.links = list(dict.fromkeys(u for u in (_absolute(url, h) for h in facts.links) if u))
    return facts


class SitemapRejected(Exception):
    """A sitemap that is not read, for a reason recorded as a skip reason (``code``)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def sitemap_urls(xml: bytes, limit: int = 10_000) -> list[str]:
    """<loc> entries of a sitemap (or sitemap index).

    Parsed with defusedxml: a document type declaration, entity declarations (billion laughs) or
    external references (XXE) are refused before anything is expanded or fetched; so is malformed XML.
    """
    try:
        root = safe_fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise SitemapRejected("sitemap_unsafe_xml") from exc
    except ParseError as exc:
        raise SitemapRejected("sitemap_malformed") from exc
    return [el.text.strip() for el in root.iter() if str(el.tag).endswith("loc") and el.text][
        :limit
    ]
