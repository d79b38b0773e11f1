"""The challenge a capture answers (poses in a random order, a one-time nonce) and its thresholds."""

from __future__ import annotations

import hashlib
import itertools
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from random import Random
from typing import Any

from django.core.cache import cache

DIRECTIONS = ("left", "right", "up", "down")


CHALLENGE_TTL_SECONDS = 120


MIN_STEPS, MAX_STEPS = 2, 3


MIN_FRAMES, MAX_FRAMES = 4, 8


# A webcam frame as JPEG is 50-300 kB; 4 MB bounds the work one capture can cause well under the
# general upload limit (FACE_IMAGE_MAX_BYTES), which decode_image applies as well.
FRAME_MAX_BYTES = 4 * 1024 * 1024


# Browser and server clocks differ; a capture time may be this far outside the challenge's window.
CLOCK_SKEW_SECONDS = 5.0


NONCE_KEY_PREFIX = "liveness:nonce:"


NonceStore = Callable[[str, int], bool]


@dataclass(frozen=True)
class Thresholds:
    """The decision thresholds. Set on synthetic captures (bench/liveness.py); see the module's
    docstring for what that cannot tell about real cameras."""

    # Pose, relative to the first frame. yaw: nose-tip shift along the eye line / inter-ocular
    # distance, either way; up / down: change of the nose tip's position between the eye line (0) and
    # the mouth (1). On an average face (nose tip about 25 mm in front of the eyes, 63 mm between
    # them) 0.04 is a turn of about 6 degrees. Synthetic turns of 20-28 degrees read 0.04-0.12
    # sideways, 0.12-0.18 up and only 0.045-0.09 down, and a sideways turn leaks up to 0.05 into
    # "up": hence the higher threshold for up. Low on purpose: the order of the poses, not their
    # size, is what a replay cannot know in advance.
    yaw: float = 0.04
    up: float = 0.06
    down: float = 0.04
    # A pair of consecutive frames "moved" when the face's landmarks changed shape by at least this
    # share of the inter-ocular distance (mean residual after the best similarity transform: moving
    # a photo about, nearer or tilted in its plane does not count) and its pixels by at least
    # ``still_pixels`` grey levels on average. Synthetic camera noise on a still reads 0.006-0.015;
    # a change of pose 0.024-0.076. A pair whose pose reading changed (``_pose_label``) moved too. A
    # capture needs at least one moved pair per asked pose.
    moved_landmarks: float = 0.018
    still_pixels: float = 0.75
    # Scene outside the face (and the hair and body under it) between consecutive frames.
    background_ssim: float = 0.5
    light_change: float = 0.12  # share of the full grey range
    min_background_share: float = 0.15  # of the frame; less leaves nothing to compare
    # Embedding distances; None: from the calibration (``_thresholds``).
    same_person: float | None = None
    reference: float | None = None


@dataclass(frozen=True)
class Challenge:
    """What the person is asked to do, and the one-time nonce that binds their frames to it.

    Times are Unix seconds on the server's clock. ``to_dict``/``from_dict`` round-trip it through
    JSON (a session or a request row); the nonce is a secret for its lifetime, so it is left out of
    ``repr`` and logs.
    """

    steps: tuple[str, ...]
    nonce: str = field(repr=False)
    issued_at: float
    expires_at: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": list(self.steps),
            "nonce": self.nonce,
            "issued_at": self.issued_at,
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Challenge:
        steps = tuple(str(s) for s in data["steps"])
        if not MIN_STEPS <= len(steps) <= MAX_STEPS or any(s not in DIRECTIONS for s in steps):
            raise ValueError(
                f"a challenge has {MIN_STEPS} to {MAX_STEPS} steps among {', '.join(DIRECTIONS)}"
            )
        if any(a == b for a, b in itertools.pairwise(steps)):
            raise ValueError("a challenge never asks the same pose twice in a row")
        issued, expires = float(data["issued_at"]), float(data["expires_at"])
        if not expires > issued:
            raise ValueError("a challenge expires after it is issued")
        nonce = str(data["nonce"])
        if len(nonce) < 16:
            raise ValueError("a challenge's nonce has at least 16 characters")
        return cls(steps=steps, nonce=nonce, issued_at=issued, expires_at=expires)


def challenge_new(
    *,
    rng: Random | None = None,
    now: float | datetime | None = None,
    ttl: int = CHALLENGE_TTL_SECONDS,
) -> Challenge:
    """A random 2-3 step pose challenge (no immediate repeats) with a fresh one-time nonce.

    ``rng`` chooses the steps (default: the OS's randomness; pass a seeded ``random.Random`` in
    benchmarks); the nonce always comes from ``secrets``.
    """
    chooser = rng if rng is not None else secrets.SystemRandom()
    count = chooser.randint(MIN_STEPS, MAX_STEPS)
    steps: list[str] = []
    while len(steps) < count:
        step = chooser.choice([d for d in DIRECTIONS if not steps or d != steps[-1]])
        steps.append(step)
    issued = _seconds(now) if now is not None else time.time()
    return Challenge(
        steps=tuple(steps),
        nonce=secrets.token_urlsafe(24),
        issued_at=issued,
        expires_at=issued + ttl,
    )


def _nonce_key(nonce: str) -> str:
    # The store sees a digest, never the token itself.
    return NONCE_KEY_PREFIX + hashlib.sha256(nonce.encode()).hexdigest()


def _cache_add(key: str, timeout: int) -> bool:

    return bool(cache.add(key, 1, timeout=timeout))


def nonce_consume(
    *, challenge: Challenge, store: NonceStore | None = None, now: float | datetime | None = None
) -> bool:
    """Mark the challenge's nonce used; False when it was used before.

    ``store(key, timeout_seconds)`` must add ``key`` atomically and say whether it was new (the
    default is Django's ``cache.add``, Redis in this project). The key outlives the challenge, so a
    nonce can never be used twice while the challenge could still be accepted.
    """
    add = store if store is not None else _cache_add
    current = _seconds(now) if now is not None else time.time()
    timeout = max(60, math.ceil(challenge.expires_at - current + CLOCK_SKEW_SECONDS) + 60)
    return bool(add(_nonce_key(challenge.nonce), timeout))


def memory_nonce_store() -> NonceStore:
    """A process-local nonce store (benchmarks, scripts): never for the web process."""
    seen: set[str] = set()

    def add(key: str, timeout: int) -> bool:
        if key in seen:
            return False
        seen.add(key)
        return True

    return add


def _seconds(value: float | datetime) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)
