"""``capture_check``: every check of one live capture, in order, cheapest first (see the package docstring)."""

from __future__ import annotations

import itertools
import logging
import math
import secrets
import time
from collections.abc import Sequence
from datetime import datetime

import numpy as np

from search import engine
from search.liveness.challenge import (
    CLOCK_SKEW_SECONDS,
    MAX_FRAMES,
    MIN_FRAMES,
    Challenge,
    NonceStore,
    Thresholds,
    _seconds,
    nonce_consume,
)
from search.liveness.measures import (
    CaptureReport,
    CheckResult,
    FrameMeasure,
    _analyse,
    _decode,
    _face_change,
    _floats,
    _frame_list,
    _not_evaluated,
    _pose_label,
    _scene_change,
    _thresholds,
    _vector,
    pose_measures,
)

logger = logging.getLogger(__name__)


def capture_check(
    *,
    challenge: Challenge,
    frames: Sequence[bytes],
    captured_at: Sequence[float] | None = None,
    now: float | datetime | None = None,
    reference_embeddings: Sequence[np.ndarray] | None = None,
    nonce: str | None = None,
    nonce_store: NonceStore | None = None,
    thresholds: Thresholds | None = None,
) -> CaptureReport:
    """Check a live capture against its challenge; never raises on bad input (the report says why).

    ``frames``: 4-8 JPEG/PNG/WebP images, the first looking at the camera, then the asked poses in
    order. ``captured_at``: the browser's capture time of each frame (Unix seconds; a consistency
    check only, since the browser controls it). ``now``: the server's time of receipt (default:
    the clock). ``reference_embeddings``: the request's confirmed candidates; without them there is
    no reference check and ``passed`` says nothing about whose face it is, so a caller that releases
    anything on the strength of the capture must pass them. ``nonce``: the nonce the browser sent back (compared with the
    challenge's in constant time). ``nonce_store``: see ``nonce_consume``; the nonce is consumed by
    this call, whether the capture passes or not, so every attempt needs a new challenge.
    """
    started = time.perf_counter()
    t, same_threshold, reference_threshold = _thresholds(thresholds)
    received = _seconds(now) if now is not None else time.time()
    checks: list[CheckResult] = []
    frame_list = _frame_list(frames)
    references = list(reference_embeddings) if reference_embeddings is not None else None

    def report(
        frame_measures: Sequence[FrameMeasure] = (), distances: Sequence[float] = ()
    ) -> CaptureReport:
        result = CaptureReport(
            steps=challenge.steps,
            checks=tuple(checks),
            frames=tuple(frame_measures),
            reference_distances=tuple(distances),
            elapsed_seconds=round(time.perf_counter() - started, 3),
        )
        logger.info(
            "live capture checked: passed=%s flags=%s frames=%s",
            result.passed,
            result.flags,
            len(frame_list),
        )
        return result

    # Freshness, the nonce and the capture times come first: a stale or replayed submission costs no
    # face analysis.
    age = received - challenge.issued_at
    lifetime = challenge.expires_at - challenge.issued_at
    fresh = challenge.issued_at - CLOCK_SKEW_SECONDS <= received <= challenge.expires_at
    checks.append(
        CheckResult(
            name="challenge_fresh",
            flag="stale_challenge",
            passed=fresh,
            value=round(age, 3),
            threshold=lifetime,
            detail=f"received {age:.0f} s after the challenge was issued; it is valid for {lifetime:.0f} s",
        )
    )
    matches = nonce is None or secrets.compare_digest(str(nonce).encode(), challenge.nonce.encode())
    unused = (
        nonce_consume(challenge=challenge, store=nonce_store, now=received) if matches else False
    )
    checks.append(
        CheckResult(
            name="nonce_valid",
            flag="nonce_invalid",
            passed=matches and unused,
            value=float(matches and unused),
            threshold=1.0,
            detail="the challenge's nonce, first use"
            if matches and unused
            else (
                "the nonce is not this challenge's" if not matches else "the nonce was used before"
            ),
        )
    )
    count = len(frame_list)
    count_ok = MIN_FRAMES <= count <= MAX_FRAMES
    if captured_at is not None:
        times = _floats(captured_at)
        in_window = (
            len(times) == count
            and all(
                challenge.issued_at - CLOCK_SKEW_SECONDS
                <= x
                <= min(received, challenge.expires_at) + CLOCK_SKEW_SECONDS
                for x in times
            )
            and all(a <= b for a, b in itertools.pairwise(times))
        )
        finite = [x for x in times if math.isfinite(x)]
        span = (max(finite) - min(finite)) if finite else 0.0
        checks.append(
            CheckResult(
                name="frame_times",
                flag="frame_time_outside",
                passed=in_window,
                value=round(span, 3),
                threshold=lifetime,
                detail=f"{len(times)} capture times over {span:.1f} s, "
                + (
                    "in order, inside the challenge's window"
                    if in_window
                    else "not all in order inside the challenge's window"
                ),
            )
        )
    frame_names = ("one_face", "pose_sequence", "live_motion", "same_person", "background", "light")
    frame_flags = (
        "face_count",
        "pose_mismatch",
        "replayed_still",
        "identity_changed",
        "background_changed",
        "light_changed",
    )
    if not count_ok:
        checks.append(
            CheckResult(
                name="frames",
                flag="bad_frames",
                passed=False,
                value=float(count),
                threshold=float(MAX_FRAMES if count > MAX_FRAMES else MIN_FRAMES),
                detail=f"{count} frames received; {MIN_FRAMES} to {MAX_FRAMES} are needed",
            )
        )
    in_time = (
        fresh and matches and unused and all(c.passed for c in checks if c.name == "frame_times")
    )
    if not count_ok or not in_time:
        why = (
            "the frames were refused"
            if not count_ok
            else "the capture is not fresh or not bound to this challenge"
        )
        checks.extend(
            _not_evaluated(n, f, why) for n, f in zip(frame_names, frame_flags, strict=True)
        )
        if references is not None:
            checks.append(_not_evaluated("reference_match", "reference_mismatch", why))
        return report()

    decoded = [_decode(i, data) for i, data in enumerate(frame_list)]
    bad = [f for f in decoded if f.error]
    checks.append(
        CheckResult(
            name="frames",
            flag="bad_frames",
            passed=not bad,
            value=float(len(decoded) - len(bad)),
            threshold=float(len(decoded)),
            detail=f"{len(decoded)} frames, all decoded"
            if not bad
            else "; ".join(f"frame {f.index + 1}: {f.error}" for f in bad),
        )
    )
    if bad:
        # A capture with a frame we cannot read is refused whole: no face work on the rest.
        why = "a frame could not be decoded"
        checks.extend(
            _not_evaluated(n, f, why) for n, f in zip(frame_names, frame_flags, strict=True)
        )
        if references is not None:
            checks.append(_not_evaluated("reference_match", "reference_mismatch", why))
        return report([FrameMeasure(index=f.index, faces=0, error=f.error) for f in decoded])
    try:
        _analyse(decoded)
    except (
        Exception
    ):  # the face model failed on something decode_image accepted: a refusal, never a 500
        logger.exception("face analysis of a live capture failed")
        checks.extend(
            _not_evaluated(n, f, "the face analysis failed")
            for n, f in zip(frame_names, frame_flags, strict=True)
        )
        if references is not None:
            checks.append(
                _not_evaluated("reference_match", "reference_mismatch", "the face analysis failed")
            )
        return report(
            [FrameMeasure(index=f.index, faces=0, error="analysis_failed") for f in decoded]
        )

    # (a) exactly one usable face in every frame
    face_counts = [len(f.boxes) for f in decoded]
    wrong = [f for f in decoded if len(f.boxes) != 1]
    checks.append(
        CheckResult(
            name="one_face",
            flag="face_count",
            passed=not wrong,
            value=float(len(decoded) - len(wrong)),
            threshold=float(len(decoded)),
            detail="one face in every frame"
            if not wrong
            else "; ".join(
                f"frame {f.index + 1}: {len(f.boxes)} faces"
                + (f" ({f.rejected} too small)" if f.rejected else "")
                for f in wrong
            ),
        )
    )
    usable = not wrong and all(f.landmarks is not None and f.embedding is not None for f in decoded)
    measures = [
        FrameMeasure(index=f.index, faces=n, error=f.error)
        for f, n in zip(decoded, face_counts, strict=True)
    ]
    if not usable:
        why = (
            "not every frame shows exactly one face"
            if wrong
            else "no landmarks with this face model"
        )
        checks.extend(
            _not_evaluated(n, f, why) for n, f in zip(frame_names[1:], frame_flags[1:], strict=True)
        )
        if references is not None:
            checks.append(_not_evaluated("reference_match", "reference_mismatch", why))
        return report(measures)

    # (b) the asked poses, in order, relative to the first frame
    poses = [pose_measures(f.landmarks) for f in decoded]  # type: ignore[arg-type]
    yaw0, pitch0, _ = poses[0]
    labels = ["neutral"] + [
        _pose_label(yaw - yaw0, pitch0 - pitch, t) for yaw, pitch, _ in poses[1:]
    ]
    seen: list[str] = []
    for label in labels[1:]:
        if label != "neutral" and (not seen or seen[-1] != label):
            seen.append(label)
    matched = 0
    for asked, shown in zip(challenge.steps, seen, strict=False):
        if asked != shown:
            break
        matched += 1
    pose_ok = seen == list(challenge.steps)
    checks.append(
        CheckResult(
            name="pose_sequence",
            flag="pose_mismatch",
            passed=pose_ok,
            value=float(matched),
            threshold=float(len(challenge.steps)),
            detail=f"asked {' → '.join(challenge.steps)}; seen {' → '.join(seen) or 'no movement'}"
            f" (thresholds: sideways {t.yaw}, up {t.up}, down {t.down})",
        )
    )

    # (e) not a replayed still
    pairs = list(itertools.pairwise(decoded))
    changes = [_face_change(a, b) for a, b in pairs]
    # A pair moved when the face changed shape, or changed pose past the pose thresholds (a weak
    # nod can change the pose reading while the shape changes little).
    moved = sum(
        pixels >= t.still_pixels and (motion >= t.moved_landmarks or before != after)
        for (motion, pixels), before, after in zip(changes, labels, labels[1:], strict=False)
    )
    checks.append(
        CheckResult(
            name="live_motion",
            flag="replayed_still",
            passed=moved >= len(challenge.steps),
            value=float(moved),
            threshold=float(len(challenge.steps)),
            detail=f"the face changed shape or pose between {moved} of {len(changes)} consecutive frames "
            f"(at least one per asked pose needed); largest change {max(c[0] for c in changes):.3f} "
            f"(threshold {t.moved_landmarks}), smallest pixel change {min(c[1] for c in changes):.2f}",
        )
    )

    # (c) one identity across the frames
    first = decoded[0].embedding
    assert first is not None
    distances = [engine.cosine_distance(first, f.embedding) for f in decoded]  # type: ignore[arg-type]
    worst = max(distances[1:])
    checks.append(
        CheckResult(
            name="same_person",
            flag="identity_changed",
            passed=worst <= same_threshold,
            value=round(worst, 4),
            threshold=round(same_threshold, 4),
            detail=f"largest face distance to the first frame {worst:.3f} (same-person threshold {same_threshold:.3f})",
        )
    )

    # (d) the scene outside the person and its light stay the same
    scene = [_scene_change(a, b) for a, b in pairs]
    enough = all(share >= t.min_background_share for _, _, share in scene)
    min_ssim = min(s for s, _, _ in scene)
    max_light = max(light for _, light, _ in scene)
    min_share = min(share for _, _, share in scene)
    checks.append(
        CheckResult(
            name="background",
            flag="background_changed",
            passed=enough and min_ssim >= t.background_ssim,
            value=round(min_ssim, 4),
            threshold=t.background_ssim,
            detail=f"smallest similarity of the scene between consecutive frames {min_ssim:.2f} over "
            f"{min_share:.0%} of the frame"
            + ("" if enough else " (too little scene visible: step back from the camera)"),
        )
    )
    checks.append(
        CheckResult(
            name="light",
            flag="light_changed",
            passed=enough and max_light <= t.light_change,
            value=round(max_light, 4),
            threshold=t.light_change,
            detail=f"largest change of the scene's brightness between consecutive frames {max_light:.1%}",
        )
    )

    # (g) the live face matches the request's confirmed candidates
    reference_distances: list[float] = []
    if references is not None:
        valid = [
            r for r in (_vector(r) for r in references) if r is not None and r.shape == first.shape
        ]
        reference_distances = [round(engine.cosine_distance(first, r), 4) for r in valid]
        if not reference_distances:
            checks.append(
                _not_evaluated(
                    "reference_match", "reference_mismatch", "no usable reference embedding"
                )
            )
        else:
            nearest = min(reference_distances)
            near = sum(d <= reference_threshold for d in reference_distances)
            checks.append(
                CheckResult(
                    name="reference_match",
                    flag="reference_mismatch",
                    passed=nearest <= reference_threshold,
                    value=nearest,
                    threshold=round(reference_threshold, 4),
                    detail=f"the live face (first frame) is within {reference_threshold:.3f} of {near} of "
                    f"{len(reference_distances)} reference faces; nearest {nearest:.3f}",
                )
            )

    measures = [
        FrameMeasure(
            index=f.index,
            faces=1,
            yaw=round(yaw, 4),
            pitch=round(pitch, 4),
            pose=label,
            distance_to_first=round(d, 4),
        )
        for f, (yaw, pitch, _), label, d in zip(decoded, poses, labels, distances, strict=True)
    ]
    return report(measures, reference_distances)
