"""Search API: POST /api/v1/searches/ (202), GET /api/v1/searches/{id}/, choose a face, face crops.

Every error is ``{"error": {"code", "message"}}`` (see accounts.api_auth); the schema lists
each status code an operation can answer. One request format per operation, so that a generated
client has one way to call it: the upload is ``multipart/form-data`` (the photo is a binary file
part), every other POST takes ``application/json`` only (a form body answers 415).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.http import client_ip
from search import monitoring, selectors, services, views, withholding
from search.api_serializers import (
    ERROR_MEANINGS,
    HELD_MESSAGE,
    ConfirmationSerializer,
    ErrorSerializer,
    HitSerializer,
    OperatingPointSerializer,
    ProbeFaceSerializer,
)
from search.models import AccessRestrictionBasis, LawfulBasis, SearchRequest

_MAX_ID = 2**63 - 1


def _error(code: str, message: str, http_status: int, **extra: object) -> Response:
    return Response({"error": {"code": code, "message": message, **extra}}, status=http_status)


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {
        code: OpenApiResponse(ErrorSerializer, description=ERROR_MEANINGS[code]) for code in codes
    }


def _access_search(request: Request, search_id: int) -> SearchRequest:
    if not 0 < search_id <= _MAX_ID:
        raise Http404
    return selectors.access_search_by_id(user=request.user, search_id=search_id)  # type: ignore[arg-type]


class SearchCreateApi(APIView):
    parser_classes = [MultiPartParser]

    class SearchCreateInputSerializer(serializers.Serializer):
        image = serializers.FileField()
        # Not blank (the pattern tells the schema so: at least one non-space character).
        purpose = serializers.RegexField(r"\S", max_length=500)
        lawful_basis = serializers.ChoiceField(choices=LawfulBasis.choices)
        case_reference = serializers.RegexField(r"\S", max_length=100)

    class SearchAcceptedSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        status = serializers.ChoiceField(choices=SearchRequest.Status.choices)
        url = serializers.CharField()

    @extend_schema(
        request={"multipart/form-data": SearchCreateInputSerializer},
        responses={
            202: SearchAcceptedSerializer,
            **_errors(400, 401, 403, 405, 413, 415, 429, 503),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = self.SearchCreateInputSerializer(data=request.data)
        if not serializer.is_valid():
            return _error(
                "invalid",
                "Some fields are missing or invalid.",
                status.HTTP_400_BAD_REQUEST,
                fields=serializer.errors,
            )
        data = serializer.validated_data
        upload = data["image"]
        if upload.size > settings.FACE_IMAGE_MAX_BYTES:
            return _error(
                "too_large",
                f"The file is {upload.size / 1e6:.0f} MB; the limit is {settings.FACE_IMAGE_MAX_BYTES / 1e6:.0f} MB.",
                status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        try:
            search = services.search_create(
                user=request.user,  # type: ignore[arg-type]
                image_data=upload.read(),
                purpose=data["purpose"],
                lawful_basis=data["lawful_basis"],
                case_reference=data["case_reference"],
                ip=client_ip(request._request),
            )
        # A refusal (an unusable photo 400, the face slots busy 503 with Retry-After, the quota 429)
        # is a config.errors.ApplicationError: config.api_errors answers it.
        except ValidationError as exc:
            return _error("invalid", " ".join(exc.messages), status.HTTP_400_BAD_REQUEST)
        url = request.build_absolute_uri(reverse("api-search-detail", args=[search.pk]))
        out = self.SearchAcceptedSerializer({"id": search.pk, "status": search.status, "url": url})
        return Response(out.data, status=status.HTTP_202_ACCEPTED, headers={"Location": url})


def _confirmation(request: Request, search: SearchRequest) -> dict[str, object] | None:
    if search.status != SearchRequest.Status.NEEDS_CONFIRMATION:
        return None
    return {
        "code": "needs_confirmation",
        "message": HELD_MESSAGE,
        "earlier_searches": len(monitoring.earlier_searches_of_same_person(search=search)),
        "window_days": settings.MONITORING_WINDOW_DAYS,
        "confirm_url": request.build_absolute_uri(
            reverse("api-search-confirm-repeat", args=[search.pk])
        ),
        "cancel_url": request.build_absolute_uri(
            reverse("api-search-cancel-repeat", args=[search.pk])
        ),
    }


class SearchDetailApi(APIView):
    class SearchDetailSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        status = serializers.ChoiceField(
            choices=SearchRequest.Status.choices,
            help_text="choose_face: choose one of faces_to_choose; needs_confirmation: a repeat "
            "search, held (see confirmation); done: hits are final",
        )
        error = serializers.CharField()
        purpose = serializers.CharField()
        lawful_basis = serializers.CharField()
        case_reference = serializers.CharField()
        created_at = serializers.DateTimeField()
        completed_at = serializers.DateTimeField(allow_null=True)
        faces_to_choose = ProbeFaceSerializer(many=True)
        hits = HitSerializer(
            many=True,
            help_text="the matches that may be shown now (restricted or erased faces vanish)",
        )
        confirmation = ConfirmationSerializer(
            allow_null=True,
            help_text="set while a repeat search waits for the analyst's confirmation",
        )
        operating_point = OperatingPointSerializer(
            allow_null=True,
            help_text="the strict level a finished search ran at; null before it finished",
        )

    @extend_schema(responses={200: SearchDetailSerializer, **_errors(401, 403, 404, 405, 503)})
    def get(self, request: Request, search_id: int) -> Response:
        search = _access_search(request, search_id)
        hits = []
        if search.status == SearchRequest.Status.DONE:
            services.search_results_viewed(
                search=search, user=request.user, ip=client_ip(request._request), via="api"
            )  # type: ignore[arg-type]
            for hit in selectors.search_hit_list(search=search):
                image = hit.face.image
                hits.append(
                    {
                        "rank": hit.rank,
                        "face_id": hit.face_id,
                        "similarity": round(hit.similarity, 4),
                        "distance": round(hit.distance, 4),
                        "confidence": round(hit.confidence, 4),
                        "thumbnail_url": request.build_absolute_uri(
                            reverse("api-search-hit-crop", args=[search.pk, hit.face_id])
                        ),
                        **image.provenance.as_dict(),
                        "first_seen": image.first_seen,
                        "last_seen": image.last_seen,
                    }
                )
        faces = [
            {
                "index": pf.index,
                "box": pf.box,
                "thumbnail_url": request.build_absolute_uri(
                    reverse("api-search-face-thumbnail", args=[search.pk, pf.index])
                ),
            }
            for pf in search.probe_faces.all()
        ]
        out = self.SearchDetailSerializer(
            {
                "id": search.pk,
                "status": search.status,
                "error": search.error,
                "purpose": search.purpose,
                "lawful_basis": search.lawful_basis,
                "case_reference": search.case_reference,
                "created_at": search.created_at,
                "completed_at": search.completed_at,
                "faces_to_choose": faces,
                "hits": hits,
                "confirmation": _confirmation(request, search),
                "operating_point": (
                    selectors.search_operating_point(search=search)
                    if search.status == SearchRequest.Status.DONE
                    else None
                ),
            }
        )
        return Response(out.data)


class SearchChooseFaceApi(APIView):
    parser_classes = [JSONParser]

    class ChooseFaceInputSerializer(serializers.Serializer):
        face = serializers.IntegerField(min_value=0, max_value=1000)

    @extend_schema(
        request={"application/json": ChooseFaceInputSerializer},
        responses={
            200: SearchDetailApi.SearchDetailSerializer,
            **_errors(400, 401, 403, 404, 405, 409, 413, 415, 503),
        },
    )
    def post(self, request: Request, search_id: int) -> Response:
        search = _access_search(request, search_id)
        serializer = self.ChooseFaceInputSerializer(data=request.data)
        if not serializer.is_valid():
            return _error(
                "invalid",
                "Give the index of one of faces_to_choose.",
                status.HTTP_400_BAD_REQUEST,
                fields=serializer.errors,
            )
        try:
            services.search_choose_face(
                search=search,
                index=serializer.validated_data["face"],
                user=request.user,  # type: ignore[arg-type]
                ip=client_ip(request._request),
            )
        except ValidationError as exc:
            return _error("invalid", " ".join(exc.messages), status.HTTP_409_CONFLICT)
        return SearchDetailApi().get(request, search_id)


class SearchRepeatConfirmApi(APIView):
    """Release a held repeat search's results: the analyst confirms under a case reference (audited).

    A search whose person the organisation searched before, within the monitoring window and under
    another case reference, ends in status ``needs_confirmation`` with no hits and a
    ``confirmation`` object. Send ``{"case_reference": "..."}`` (JSON) to release the results; the
    answer is the search, now ``done``. Only the analyst who ran the search may confirm.
    """

    parser_classes = [JSONParser]

    class RepeatConfirmInputSerializer(serializers.Serializer):
        case_reference = serializers.RegexField(r"\S", max_length=100)

    @extend_schema(
        request={"application/json": RepeatConfirmInputSerializer},
        responses={
            200: OpenApiResponse(
                SearchDetailApi.SearchDetailSerializer,
                description="the search, released: status done, with its hits",
            ),
            **_errors(400, 401, 404, 405, 413, 415, 503),
            403: OpenApiResponse(
                ErrorSerializer, description="not_your_search: only its analyst may confirm"
            ),
            409: OpenApiResponse(
                ErrorSerializer, description="not_held: the search is not waiting for this"
            ),
        },
    )
    def post(self, request: Request, search_id: int) -> Response:
        search = _access_search(request, search_id)
        serializer = self.RepeatConfirmInputSerializer(data=request.data)
        if not serializer.is_valid():
            return _error(
                "invalid",
                "Give the case_reference this repeat search belongs to.",
                status.HTTP_400_BAD_REQUEST,
                fields=serializer.errors,
            )
        try:
            monitoring.search_repeat_confirm(
                search=search,
                user=request.user,  # type: ignore[arg-type]
                case_reference=serializer.validated_data["case_reference"],
                ip=client_ip(request._request),
            )
        except ValidationError as exc:
            return _error("invalid", " ".join(exc.messages), status.HTTP_400_BAD_REQUEST)
        return SearchDetailApi().get(request, search_id)


class SearchRepeatCancelApi(APIView):
    """Withdraw a held repeat search: its matches are deleted unseen (audited).

    No body. The answer is the search, now ``failed`` with no hits. Only the analyst who ran the
    search may cancel; 409 ``not_held`` when it is not waiting for a confirmation.
    """

    @extend_schema(
        request=None,
        responses={
            200: OpenApiResponse(
                SearchDetailApi.SearchDetailSerializer,
                description="the search, withdrawn: status failed, no hits",
            ),
            **_errors(401, 404, 405, 503),
            403: OpenApiResponse(
                ErrorSerializer, description="not_your_search: only its analyst may cancel"
            ),
            409: OpenApiResponse(
                ErrorSerializer, description="not_held: the search is not waiting for this"
            ),
        },
    )
    def post(self, request: Request, search_id: int) -> Response:
        search = _access_search(request, search_id)
        monitoring.search_repeat_cancel(
            search=search, user=request.user, ip=client_ip(request._request)
        )  # type: ignore[arg-type]
        return SearchDetailApi().get(request, search_id)


class SearchAccessRestrictionClaimApi(APIView):
    """Claim that a search is covered by a restriction of the right of access (GDPR Art 23), with the legal
    basis and a reference. The org admin or the analyst who ran the search may claim; the DPO approves or
    refuses (audited). Until approved, the claim withholds nothing from a person's access request."""

    parser_classes = [JSONParser]

    class AccessRestrictionInputSerializer(serializers.Serializer):
        basis = serializers.ChoiceField(choices=AccessRestrictionBasis.choices)
        reference = serializers.RegexField(
            r"\S", max_length=200, help_text='e.g. "UK DPA 2018 Sch 2 para 2, case 123"'
        )

    class AccessRestrictionOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        access_restriction = serializers.ChoiceField(
            choices=SearchRequest.AccessRestriction.choices
        )
        basis = serializers.ChoiceField(
            choices=AccessRestrictionBasis.choices, source="access_restriction_basis"
        )
        reference = serializers.CharField(source="access_restriction_reference")
        claimed_at = serializers.DateTimeField(source="access_restriction_claimed_at")

    @extend_schema(
        request={"application/json": AccessRestrictionInputSerializer},
        responses={
            201: AccessRestrictionOutputSerializer,
            **_errors(400, 401, 403, 404, 405, 409, 415, 503),
        },
    )
    def post(self, request: Request, search_id: int) -> Response:
        search = _access_search(request, search_id)
        serializer = self.AccessRestrictionInputSerializer(data=request.data)
        if not serializer.is_valid():
            return _error(
                "invalid",
                "Give the basis and the reference of the restriction.",
                status.HTTP_400_BAD_REQUEST,
                fields=serializer.errors,
            )
        try:
            search = withholding.search_access_restriction_claim(
                search=search,
                user=request.user,  # type: ignore[arg-type]
                basis=serializer.validated_data["basis"],
                reference=serializer.validated_data["reference"],
                ip=client_ip(request._request),
            )
        except PermissionDenied as exc:
            return _error("not_allowed", str(exc), status.HTTP_403_FORBIDDEN)
        except ValidationError as exc:
            return _error("invalid", " ".join(exc.messages), status.HTTP_400_BAD_REQUEST)
        return Response(
            self.AccessRestrictionOutputSerializer(search).data, status=status.HTTP_201_CREATED
        )


class _JpegApi(APIView):
    """A face image over the API, with the same token as the rest; errors stay JSON."""

    renderer_classes = [JSONRenderer]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        return super().perform_content_negotiation(
            request, force=True
        )  # an image client may accept only image/*


class SearchHitCropApi(_JpegApi):
    @extend_schema(
        responses={
            (200, "image/jpeg"): OpenApiResponse(OpenApiTypes.BINARY, description="the face crop")
        }
        | _errors(401, 403, 404, 405, 409, 503)
    )
    def get(self, request: Request, search_id: int, face_id: int) -> HttpResponse:
        """The crop of one face that this search returned; 404 for anything else."""
        search = _access_search(request, search_id)
        if not 0 < face_id <= _MAX_ID:
            raise Http404
        if search.status == SearchRequest.Status.NEEDS_CONFIRMATION:
            return _error(  # type: ignore[return-value]
                "needs_confirmation",
                HELD_MESSAGE,
                status.HTTP_409_CONFLICT,
                confirm_url=request.build_absolute_uri(
                    reverse("api-search-confirm-repeat", args=[search.pk])
                ),
            )
        return views.private_jpeg(views.hit_crop_bytes(search=search, face_id=face_id))


class SearchFaceThumbnailApi(_JpegApi):
    @extend_schema(
        responses={
            (200, "image/jpeg"): OpenApiResponse(
                OpenApiTypes.BINARY, description="one face of the probe"
            )
        }
        | _errors(401, 403, 404, 405, 503)
    )
    def get(self, request: Request, search_id: int, index: int) -> HttpResponse:
        """One of the faces found in a probe with several, while the search waits for a choice."""
        search = _access_search(request, search_id)
        return views.private_jpeg(views.probe_face_bytes(search=search, index=index))
