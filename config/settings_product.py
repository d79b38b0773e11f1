"""The product's own settings (the API, face pipeline, search, monitoring, crawler, data-subject requests),
read from the environment; ``config.settings`` imports them all. Kept apart so that each settings
module stays short enough to read; Django's own settings and the services are in config/settings.py."""

from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

# --- API (REST framework and the OpenAPI schema) ---------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Hashed, expiring tokens; refuses members of a deactivated organisation (accounts/api_auth.py).
        "accounts.api_auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # A role that requires two-factor authentication gets no API access until it is enrolled.
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "accounts.api_auth.MFAEnrolled",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Every API error is {"error": {"code", "message"}}; a missing or bad token is 401.
    "EXCEPTION_HANDLER": "config.api_errors.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Face search API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI served from our own static files (drf-spectacular-sidecar), never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Request and response components apart: a file field is then a request's `format: binary`
    # (an upload a generated client sends as a file), not a response's `format: uri`.
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Compliance -------------------------------------------------------------------

# Daily audit anchors (last hash and count) are written here, outside the database. In
# production point this at storage the database administrators cannot rewrite (WORM bucket
# mount, another host's share).
AUDIT_ANCHOR_DIR = Path(
    env.str("AUDIT_ANCHOR_DIR", default=str(BASE_DIR / ".data" / "audit-anchors"))
)
# The transparency report publishes closed months only: figures refreshed during a month would show,
# to anyone reloading the page, the moment one request or erasure was counted (docs/transparency.md).
TRANSPARENCY_OPEN_MONTH = env.bool("TRANSPARENCY_OPEN_MONTH", default=False)

# --- Face pipeline ------------------------------------------------------------------

FACE_MODEL = env.str("FACE_MODEL", default="Dlib")
FACE_DETECTOR = env.str("FACE_DETECTOR", default="dlib")
# deepface looks for weights in $DEEPFACE_HOME/.deepface/weights; the project copies the
# packaged Dlib weights there, so nothing is downloaded at run time.
DEEPFACE_HOME = Path(env.str("DEEPFACE_HOME", default=str(BASE_DIR / ".data" / "deepface")))
FACE_DETECT_MAX_SIDE = env.int("FACE_DETECT_MAX_SIDE", default=800)
FACE_MIN_SIZE_PX = env.int("FACE_MIN_SIZE_PX", default=40)
FACE_IMAGE_MAX_BYTES = env.int("FACE_IMAGE_MAX_BYTES", default=20 * 1024 * 1024)
FACE_IMAGE_MAX_PIXELS = env.int("FACE_IMAGE_MAX_PIXELS", default=40_000_000)
FACE_BATCH_SIZE = env.int("FACE_BATCH_SIZE", default=8)
# The dlib pipeline's steps (docs/faces.md, "Pipeline", has the measurements behind the defaults).
# HOG upsampling passes; a second try with more passes, and dlib's CNN detector, where HOG found nothing.
FACE_DETECT_UPSAMPLE = env.int("FACE_DETECT_UPSAMPLE", default=1)
FACE_DETECT_RETRY_UPSAMPLE = env.int("FACE_DETECT_RETRY_UPSAMPLE", default=0)
FACE_DETECT_CNN_FALLBACK = env.bool("FACE_DETECT_CNN_FALLBACK", default=True)
FACE_DETECT_CNN_MAX_SIDE = env.int("FACE_DETECT_CNN_MAX_SIDE", default=400)
# Landmarks for the aligned chip (5 or 68); mean embedding of the chip and its mirror; dlib jitter.
FACE_LANDMARKS = env.int("FACE_LANDMARKS", default=68)
FACE_EMBED_MIRROR = env.bool("FACE_EMBED_MIRROR", default=True)
FACE_EMBED_JITTERS = env.int("FACE_EMBED_JITTERS", default=0)
# A search or source photo whose task started this many times without finishing (the worker
# died on it) is quarantined: failed, with the reason shown, and never retried.
FACE_TASK_MAX_ATTEMPTS = env.int("FACE_TASK_MAX_ATTEMPTS", default=3)
# Countries whose residents' faces we must not process (UK enforcement notice). The DPO edits it.
EXCLUDED_JURISDICTIONS: list[str] = env.list("EXCLUDED_JURISDICTIONS", default=["GB"])
SEARCH_TOP_K = env.int("SEARCH_TOP_K", default=20)
# HNSW candidate list per search (bench/search at 1M realistic faces, filtered: 100 gives recall@10
# 0.889 at p95 6.4 ms, 200 gives 0.944 at 10.5 ms, 400 gives 0.978 at 20 ms). A missed neighbour is
# a missed match, and the API's database budget is 50 ms, so 200.
SEARCH_EF_SEARCH = env.int("SEARCH_EF_SEARCH", default=200)
SEARCH_RATE_LIMIT_PER_MINUTE = env.int("SEARCH_RATE_LIMIT_PER_MINUTE", default=10)
SEARCH_DEFAULT_MONTHLY_QUOTA = env.int("SEARCH_DEFAULT_MONTHLY_QUOTA", default=1000)
PROBE_EMBEDDING_RETENTION_DAYS = env.int("PROBE_EMBEDDING_RETENTION_DAYS", default=30)
FACE_RETENTION_DAYS = env.int("FACE_RETENTION_DAYS", default=365)
# Monitoring guard (docs/monitoring.md): the same person searched under this many distinct case
# references by one organisation, or by this many organisations, within the window, alerts the DPO
# and the organisations' admins. A repeat search by the same organisation within the window holds
# the results until the analyst confirms with the case reference.
MONITORING_WINDOW_DAYS = env.int("MONITORING_WINDOW_DAYS", default=30)
MONITORING_CASES_PER_ORGANISATION = env.int("MONITORING_CASES_PER_ORGANISATION", default=3)
MONITORING_ORGANISATIONS = env.int("MONITORING_ORGANISATIONS", default=3)
MONITORING_HOLD_REPEATS = env.bool("MONITORING_HOLD_REPEATS", default=True)
# An earlier search of the person under the SAME case reference, by the same organisation, within
# this many days, does not hold a repeat (one investigation); 0 holds those too.
MONITORING_SAME_CASE_WINDOW_DAYS = env.int("MONITORING_SAME_CASE_WINDOW_DAYS", default=30)
if MONITORING_SAME_CASE_WINDOW_DAYS < 0:
    raise ImproperlyConfigured("MONITORING_SAME_CASE_WINDOW_DAYS must be 0 or more")
for _name in (
    "MONITORING_WINDOW_DAYS",
    "MONITORING_CASES_PER_ORGANISATION",
    "MONITORING_ORGANISATIONS",
):
    if globals()[_name] < 1:
        raise ImproperlyConfigured(f"{_name} must be at least 1")
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# Largest body on paths without a photo upload (uploads: FACE_IMAGE_MAX_BYTES, SUBJECT_SELFIE_MAX_BYTES).
REQUEST_BODY_MAX_BYTES = env.int("REQUEST_BODY_MAX_BYTES", default=5 * 1024 * 1024)
# Seconds a 503 (database or Redis unreachable) asks clients to wait.
SERVICE_UNAVAILABLE_RETRY_AFTER = env.int("SERVICE_UNAVAILABLE_RETRY_AFTER", default=30)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
INTERNATIONAL_TRANSFERS: list[str] = env.list(
    "INTERNATIONAL_TRANSFERS", default=["None outside the EEA"]
)

# --- Crawler ----------------------------------------------------------------------------

CRAWL_TIMEOUT_SECONDS = env.float("CRAWL_TIMEOUT_SECONDS", default=10.0)
CRAWL_MAX_BYTES = env.int("CRAWL_MAX_BYTES", default=20 * 1024 * 1024)
# Benchmarks switch politeness off with a very high rate; 0 means "use each source's rate".
CRAWL_RATE_OVERRIDE = env.float("CRAWL_RATE_OVERRIDE", default=0.0)

# --- Data-subject requests ----------------------------------------------------------------

# Where the public is told to complain (Art 77: the authority where they live or work, or the lead authority).
# REGULATOR_LEAD_AUTHORITY: the lead supervisory authority of the main establishment, named with its complaint page
# (e.g. "the CNIL (cnil.fr/plaintes)"); empty names none. REGULATOR_COMPLAINTS: a deployment's own wording, shown as
# written; empty uses the translated default. Neither may name the regulator of an EXCLUDED_JURISDICTIONS country
# (config/public_labels.py falls back to the default when it does).
REGULATOR_LEAD_AUTHORITY = env.str("REGULATOR_LEAD_AUTHORITY", default="")
REGULATOR_COMPLAINTS = env.str("REGULATOR_COMPLAINTS", default="")
SUBJECT_VERIFICATION_HOURS = env.int("SUBJECT_VERIFICATION_HOURS", default=72)
SUBJECT_VERIFICATION_LAPSE_DAYS = env.int("SUBJECT_VERIFICATION_LAPSE_DAYS", default=14)
SUBJECT_REQUESTS_PER_IP_PER_HOUR = env.int("SUBJECT_REQUESTS_PER_IP_PER_HOUR", default=20)
SUBJECT_REQUESTS_PER_EMAIL_PER_HOUR = env.int("SUBJECT_REQUESTS_PER_EMAIL_PER_HOUR", default=5)
# Selfie matches: under threshold x strict are candidates; up to threshold x borderline are flagged.
# Multipliers on the calibrated strict and candidate operating points (search/calibration.json).
SUBJECT_STRICT_FACTOR = env.float("SUBJECT_STRICT_FACTOR", default=1.0)
SUBJECT_BORDERLINE_FACTOR = env.float("SUBJECT_BORDERLINE_FACTOR", default=1.0)
# Candidates near faces the DPO confirmed: at most this many rounds and candidates per request.
SUBJECT_EXPANSION_MAX_ROUNDS = env.int("SUBJECT_EXPANSION_MAX_ROUNDS", default=5)
SUBJECT_EXPANSION_MAX_CANDIDATES = env.int("SUBJECT_EXPANSION_MAX_CANDIDATES", default=500)
# Nearest faces a selfie (or a confirmed face) proposes, within the candidate band, nearest first.
SUBJECT_LOCATE_LIMIT = env.int("SUBJECT_LOCATE_LIMIT", default=200)
# Abuse signals for the DPO (subjects/abuse.py): one face located by requests from this many normalised addresses;
# one address locating this many distinct face sets; a request failing the live checks this many times. Requests
# received within ABUSE_WINDOW_DAYS are compared.
ABUSE_SHARED_FACE_ADDRESSES = env.int("ABUSE_SHARED_FACE_ADDRESSES", default=2)
ABUSE_FACES_PER_ADDRESS = env.int("ABUSE_FACES_PER_ADDRESS", default=3)
ABUSE_CAPTURE_FAILURES = env.int("ABUSE_CAPTURE_FAILURES", default=3)
ABUSE_WINDOW_DAYS = env.int("ABUSE_WINDOW_DAYS", default=365)
SUBJECT_SELFIE_MAX_BYTES = env.int("SUBJECT_SELFIE_MAX_BYTES", default=10 * 1024 * 1024)
ACCESS_PACKAGE_DAYS = env.int("ACCESS_PACKAGE_DAYS", default=30)
