"""Server-side checks of a live camera capture: is the person in front of the camera there now,
doing what we asked, and the person whose photos a subject request located?

A rights-portal page asks for a :class:`Challenge` (``challenge_new``): two or three head poses in
a random order (``left``, ``right``, ``up``, ``down``, never the same twice in a row) and a one-time
nonce, valid for ``CHALLENGE_TTL_SECONDS``. The browser films the person with ``getUserMedia`` and
sends 4 to 8 frames: one looking at the camera, then at least one per asked pose, in order.
``capture_check`` decodes them (``engine.decode_image``: the upload limits apply), analyses every
frame once through the face adapter (``engine.analyse_many``: detection, alignment, embedding, the
same embeddings the index stores) and measures:

====================  ==========================  ===========================================================
check                 flag when it fails          what is measured (value against threshold)
====================  ==========================  ===========================================================
``frames``            ``bad_frames``              4 to 8 frames, each a photo we can decode
``challenge_fresh``   ``stale_challenge``         seconds since the challenge was issued, at most its lifetime
``nonce_valid``       ``nonce_invalid``           the nonce is the challenge's and was never used before
``frame_times``       ``frame_time_outside``      (when the caller gives capture times) every frame inside the
                                                  challenge's window, in order
``one_face``          ``face_count``              exactly one usable face in every frame
``pose_sequence``     ``pose_mismatch``           the frames show the asked poses, in order and nothing else,
                                                  each beyond a threshold from the first (neutral) frame
``live_motion``       ``replayed_still``          consecutive frame pairs where the face changed shape or pose, at least
                                                  one per asked pose
``same_person``       ``identity_changed``        largest embedding distance of a frame to the first frame
``background``        ``background_changed``      smallest structural similarity (SSIM) of the scene outside
                                                  the face between consecutive frames
``light``             ``light_changed``           largest change of the scene's mean brightness between
                                                  consecutive frames
``reference_match``   ``reference_mismatch``      (when the caller gives reference embeddings) distance of the
                                                  first frame to the nearest reference
====================  ==========================  ===========================================================

``CaptureReport.passed`` is true only when every required check was evaluated and passed; ``flags``
names the failed ones. The report holds numbers, booleans and short texts only: never a frame, a
face crop or an embedding, so it can be stored, logged and shown to the DPO as an aid beside the
frames themselves (which the caller keeps encrypted until the DPO decides).

Pose is read from dlib's 68 landmarks (``engine._landmark_predictor``): the nose tip's offset from
the eye midpoint along the eye line, over the inter-ocular distance (yaw), and the nose tip's depth
between the eye line and the mouth (pitch). A person's "left" is their own left: in the camera's
unmirrored frame their nose moves toward the right edge of the image. With a face model other than
dlib's, no landmarks are available and the pose and motion checks fail as "not evaluated".

What these checks cannot do: they see 4 to 8 frames, not a video, and they do not detect a screen
or a print held to the camera, a mask, a deepfake, or frames injected by a modified browser (a
virtual camera). They make a free face search with someone else's photo costly, not impossible;
the DPO's review of the frames beside the candidates is the decision. Their thresholds were set on
synthetic captures (``bench/liveness.py``, docs/faces.md "Live capture checks"), not on real cameras.

The checks live in ``check``; the challenge, nonces and thresholds in ``challenge``; what a frame
measures and the report in ``measures``. Callers import from here.
"""

from __future__ import annotations

from search.liveness.challenge import (
    CHALLENGE_TTL_SECONDS,
    CLOCK_SKEW_SECONDS,
    DIRECTIONS,
    FRAME_MAX_BYTES,
    MAX_FRAMES,
    MAX_STEPS,
    MIN_FRAMES,
    MIN_STEPS,
    NONCE_KEY_PREFIX,
    Challenge,
    NonceStore,
    Thresholds,
    challenge_new,
    memory_nonce_store,
    nonce_consume,
)
from search.liveness.check import capture_check
from search.liveness.measures import (
    CaptureReport,
    CheckResult,
    FrameMeasure,
    face_landmarks,
    pose_measures,
    shape_change,
)

__all__ = [
    "CHALLENGE_TTL_SECONDS",
    "CLOCK_SKEW_SECONDS",
    "DIRECTIONS",
    "FRAME_MAX_BYTES",
    "MAX_FRAMES",
    "MAX_STEPS",
    "MIN_FRAMES",
    "MIN_STEPS",
    "NONCE_KEY_PREFIX",
    "CaptureReport",
    "Challenge",
    "CheckResult",
    "FrameMeasure",
    "NonceStore",
    "Thresholds",
    "capture_check",
    "challenge_new",
    "face_landmarks",
    "memory_nonce_store",
    "nonce_consume",
    "pose_measures",
    "shape_change",
]
