"""Search API: POST /api/v1/searches/ (202), GET /api/v1/searches/{id}/, choose a face."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.adapters import client_ip
from search import engine, selectors, services
from search.models import LawfulBasis, SearchRequest


def _error(code: str, message: str, http_status: int, **extra: object) -> Response:
    return Response({"error": {"code": code, "message": message, **extra}}, status=http_status)


class SearchCreateApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    class SearchCreateInputSerializer(serializers.Serializer):
        image = serializers.FileField()
        purpose = serializers.CharField(max_length=500)
        lawful_basis = serializers.ChoiceField(choices=LawfulBasis.choices)
        case_reference = serializers.CharField(max_length=100)

    class SearchAcceptedSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        status = serializers.CharField()
        url = serializers.CharField()

    @extend_schema(request={"multipart/form-data": SearchCreateInputSerializer}, responses={202: SearchAcceptedSerializer})
    def post(self, request: Request) -> Response:
        serializer = self.SearchCreateInputSerializer(data=request.data)
        if not serializer.is_valid():
            return _error("invalid", "Some fields are missing or invalid.", status.HTTP_400_BAD_REQUEST, fields=serializer.errors)
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
        except engine.ImageRejected as exc:
            return _error(exc.code, exc.message, status.HTTP_400_BAD_REQUEST)
        except services.SearchLimitExceeded as exc:
            return _error("limit_exceeded", exc.reason, status.HTTP_429_TOO_MANY_REQUESTS)
        except ValidationError as exc:
            return _error("invalid", " ".join(exc.messages), status.HTTP_400_BAD_REQUEST)
        url = request.build_absolute_uri(reverse("api-search-detail", args=[search.pk]))
        out = self.SearchAcceptedSerializer({"id": search.pk, "status": search.status, "url": url})
        return Response(out.data, status=status.HTTP_202_ACCEPTED, headers={"Location": url})


class HitSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    face_id = serializers.IntegerField()
    similarity = serializers.FloatField()
    distance = serializers.FloatField()
    confidence = serializers.FloatField()
    thumbnail_url = serializers.CharField()
    page_url = serializers.CharField()
    image_url = serializers.CharField()
    source = serializers.CharField()
    first_seen = serializers.DateTimeField()
    last_seen = serializers.DateTimeField()


class SearchDetailApi(APIView):
    class SearchDetailSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        status = serializers.CharField()
        error = serializers.CharField()
        purpose = serializers.CharField()
        lawful_basis = serializers.CharField()
        case_reference = serializers.CharField()
        created_at = serializers.DateTimeField()
        completed_at = serializers.DateTimeField(allow_null=True)
        faces_to_choose = serializers.ListField(child=serializers.DictField())
        hits = HitSerializer(many=True)

    @extend_schema(responses={200: SearchDetailSerializer})
    def get(self, request: Request, search_id: int) -> Response:
        search = selectors.access_search_by_id(user=request.user, search_id=search_id)  # type: ignore[arg-type]
        hits = []
        if search.status == SearchRequest.Status.DONE:
            services.search_results_viewed(search=search, user=request.user, ip=client_ip(request._request), via="api")  # type: ignore[arg-type]
            for hit in selectors.search_hit_list(search=search):
                image = hit.face.image
                hits.append({
                    "rank": hit.rank, "face_id": hit.face_id, "similarity": round(hit.similarity, 4),
                    "distance": round(hit.distance, 4), "confidence": round(hit.confidence, 4),
                    "thumbnail_url": request.build_absolute_uri(reverse("search:hit_thumbnail", args=[search.pk, hit.face_id])),
                    "page_url": image.page_url, "image_url": image.image_url, "source": image.source_label,
                    "first_seen": image.first_seen, "last_seen": image.last_seen,
                })  # fmt: skip
        faces = [
            {"index": pf.index, "box": pf.box,
             "thumbnail_url": request.build_absolute_uri(reverse("search:probe_face", args=[search.pk, pf.index]))}
            for pf in search.probe_faces.all()
        ]  # fmt: skip
        out = self.SearchDetailSerializer({
            "id": search.pk, "status": search.status, "error": search.error, "purpose": search.purpose,
            "lawful_basis": search.lawful_basis, "case_reference": search.case_reference,
            "created_at": search.created_at, "completed_at": search.completed_at, "faces_to_choose": faces, "hits": hits,
        })  # fmt: skip
        return Response(out.data)


class SearchChooseFaceApi(APIView):
    class ChooseFaceInputSerializer(serializers.Serializer):
        face = serializers.IntegerField(min_value=0)

    @extend_schema(request=ChooseFaceInputSerializer, responses={200: SearchDetailApi.SearchDetailSerializer})
    def post(self, request: Request, search_id: int) -> Response:
        search = selectors.access_search_by_id(user=request.user, search_id=search_id)  # type: ignore[arg-type]
        serializer = self.ChooseFaceInputSerializer(data=request.data)
        if not serializer.is_valid():
            return _error(
                "invalid", "Give the index of one of faces_to_choose.", status.HTTP_400_BAD_REQUEST, fields=serializer.errors
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
