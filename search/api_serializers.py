"""The search API's response and request shapes (drf serializers), as the schema documents them."""

from __future__ import annotations

from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    class ErrorBodySerializer(serializers.Serializer):
        code = serializers.CharField()
        message = serializers.CharField()
        fields = serializers.JSONField(
            required=False, help_text="per-field messages, for invalid input"
        )

    error = ErrorBodySerializer()


ERROR_MEANINGS = {
    400: "Invalid input: a field is missing or wrong, or the photo is unusable.",
    401: "No API token, or one that is not valid (revoked, deleted) or has expired.",
    403: "Not allowed: e.g. the role requires two-factor authentication, which is not set up.",
    404: "No such search in your organisation.",
    405: "Method not allowed.",
    409: "The search is not in a state that allows this.",
    413: "The upload is larger than the limit.",
    415: "Unsupported request body type.",
    429: "Rate limit or monthly quota reached.",
    503: "Temporarily unavailable (database or queue down); retry after the Retry-After seconds.",
}


class HitSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    face_id = serializers.IntegerField()
    similarity = serializers.FloatField()
    distance = serializers.FloatField()
    confidence = serializers.FloatField(
        help_text="estimated probability that the two faces are the same person, for equal prior odds; fitted "
        "out of sample by person on labelled pairs (search/calibration.json, confidence.meaning)"
    )
    thumbnail_url = serializers.CharField(
        help_text="the face crop (JPEG), fetched with the same token"
    )
    source = serializers.CharField(help_text="the source the photo came from")
    page_url = serializers.CharField(
        help_text="web page the photo was found on (http/https), or empty"
    )
    image_url = serializers.CharField(help_text="web address of the photo (http/https), or empty")
    file_name = serializers.CharField(help_text="original file name of an imported photo, or empty")
    first_seen = serializers.DateTimeField()
    last_seen = serializers.DateTimeField()


class ProbeFaceSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    box = serializers.ListField(child=serializers.IntegerField())
    thumbnail_url = serializers.CharField()


class ConfirmationSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="needs_confirmation")
    message = serializers.CharField()
    earlier_searches = serializers.IntegerField(
        help_text="the organisation's searches for this person in the window"
    )
    window_days = serializers.IntegerField()
    confirm_url = serializers.CharField(help_text="POST case_reference here to see the results")
    cancel_url = serializers.CharField(help_text="POST here to withdraw the search unseen")


HELD_MESSAGE = (
    "Your organisation searched for this person before, within the monitoring window. The results are held: "
    "confirm that this search is needed for a case by POSTing its case_reference to confirm_url."
)


class OperatingPointSerializer(serializers.Serializer):
    index_size = serializers.IntegerField(
        help_text="faces of the model in the index when the search ran (at searched_at): a historical count, not "
        "lowered when faces are erased or restricted later"
    )
    searched_at = serializers.DateTimeField(help_text="when the search ran against the index")
    max_distance = serializers.FloatField(help_text="the largest cosine distance shown as a match")
    true_match_rate = serializers.FloatField(
        allow_null=True,
        help_text="share of true matches found at that distance, cross-validated by person",
    )
    tar_exact = serializers.BooleanField(
        allow_null=True,
        help_text="false when the distance is under the measured curve: the share is then at most this",
    )
