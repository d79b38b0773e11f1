"""Customer search pages: upload, live progress, choose a face, results."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.adapters import client_ip
from accounts.http import AuthenticatedHttpRequest
from accounts.selectors import membership_for
from search import engine, selectors, services
from search.forms import ChooseFaceForm, SearchForm
from search.models import Face, SearchRequest


@login_required
def index(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The search form and the organisation's recent searches."""
    membership = membership_for(user=request.user)
    if membership is None:
        raise Http404
    form = SearchForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["image"]
        try:
            if upload.size > settings.FACE_IMAGE_MAX_BYTES:
                raise engine.ImageRejected(
                    "too_large",
                    f"The file is {upload.size / 1e6:.0f} MB; the limit is {settings.FACE_IMAGE_MAX_BYTES / 1e6:.0f} MB.",
                )
            search = services.search_create(
                user=request.user,
                image_data=upload.read(),
                purpose=form.cleaned_data["purpose"],
                lawful_basis=form.cleaned_data["lawful_basis"],
                case_reference=form.cleaned_data["case_reference"],
                ip=client_ip(request),
            )
        except engine.ImageRejected as exc:
            form.add_error("image", exc.message)
        except services.SearchLimitExceeded as exc:
            form.add_error(None, exc.reason)
            return _render_index(request, membership, form, status=429)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            return redirect("search:detail", search_id=search.pk)
    return _render_index(request, membership, form, status=400 if form.errors else 200)


def _render_index(request: AuthenticatedHttpRequest, membership: object, form: SearchForm, *, status: int) -> HttpResponse:
    searches = selectors.search_list(user=request.user)[:20]
    return render(request, "search/index.html", {"form": form, "searches": searches, "membership": membership}, status=status)


@login_required
@require_GET
def detail(request: AuthenticatedHttpRequest, search_id: int) -> HttpResponse:
    search = selectors.access_search_by_id(user=request.user, search_id=search_id)
    return render(request, "search/detail.html", _detail_context(request, search))


@login_required
@require_GET
def status(request: AuthenticatedHttpRequest, search_id: int) -> HttpResponse:
    """The live part of the detail page (htmx polls it until the search is finished)."""
    search = selectors.access_search_by_id(user=request.user, search_id=search_id)
    return render(request, "search/_status.html", _detail_context(request, search))


def _detail_context(request: AuthenticatedHttpRequest, search: SearchRequest) -> dict[str, object]:
    hits = []
    if search.status == SearchRequest.Status.DONE:
        hits = list(selectors.search_hit_list(search=search))
        services.search_results_viewed(search=search, user=request.user, ip=client_ip(request))
    return {"search": search, "hits": hits, "probe_faces": search.probe_faces.all(), "Status": SearchRequest.Status}


@login_required
@require_POST
def choose_face(request: AuthenticatedHttpRequest, search_id: int) -> HttpResponse:
    search = selectors.access_search_by_id(user=request.user, search_id=search_id)
    form = ChooseFaceForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the faces shown.")
        return redirect("search:detail", search_id=search.pk)
    try:
        services.search_choose_face(search=search, index=form.cleaned_data["face"], user=request.user, ip=client_ip(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("search:detail", search_id=search.pk)


@login_required
@require_GET
def probe_face_thumbnail(request: AuthenticatedHttpRequest, search_id: int, index: int) -> HttpResponse:
    search = selectors.access_search_by_id(user=request.user, search_id=search_id)
    return private_jpeg(probe_face_bytes(search=search, index=index))


@login_required
@require_GET
def hit_thumbnail(request: AuthenticatedHttpRequest, search_id: int, face_id: int) -> HttpResponse:
    """A result's face crop, only to the organisation whose search returned it."""
    search = selectors.access_search_by_id(user=request.user, search_id=search_id)
    return private_jpeg(hit_crop_bytes(search=search, face_id=face_id))


def probe_face_bytes(*, search: SearchRequest, index: int) -> bytes:
    """One face of a probe with several (the caller checked access to the search); 404 otherwise."""
    face = search.probe_faces.filter(index=index).first() if 0 <= index < 2**15 else None
    if face is None:
        raise Http404
    return bytes(face.thumbnail)


def hit_crop_bytes(*, search: SearchRequest, face_id: int) -> bytes:
    """The crop of a face this search returned (the caller checked access to the search); 404 otherwise."""
    if not search.hits.filter(face_id=face_id).exists():
        raise Http404
    face = Face.objects.filter(pk=face_id).first()
    if face is None or not face.crop:
        raise Http404
    try:
        with face.crop.open("rb") as fh:
            return fh.read()
    except OSError as exc:  # erased meanwhile
        raise Http404 from exc


def private_jpeg(data: bytes) -> HttpResponse:
    response = HttpResponse(data, content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    return response
