"""An exercise definition and a patient's targets turned into the compiled per-input checks.

Side-specific rules are compiled once per side; every step the kernel reads each exercise rule
on the working side, the one whose driving-signal landmarks are better seen (sticky, so the
choice does not flicker), unless the therapist fixed the side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from body.landmarks import INDEX
from exercises.schema import AlternativeDef, ExerciseDef, RuleDef, SignalDef, kernel_rule
from kernels.checks import CheckedRule, ExerciseChecks, Smoothing
from kernels.frame import VIEW_FRONT, VIEW_SIDE
from kernels.reps import RepPhase
from kernels.rules import Rule, RuleKind
from session.targets import Targets

SIGNAL_KEY = "__signal"
SIDES = ("left", "right")
VIEWS = {"side": VIEW_SIDE, "front": VIEW_FRONT}


def resolve_landmark(name: str, side: str) -> int:
    """``"knee"`` on side ``"left"`` -> index of ``left_knee``; full names pass through."""
    if name in INDEX:
        return INDEX[name]
    return INDEX[f"{side}_{name}"]


def _is_sided(names: tuple[str, ...]) -> bool:
    return any(n not in INDEX for n in names)


@dataclass(frozen=True, slots=True)
class RuleLandmarks:
    """The landmarks one exercise rule reads on each side (equal for a side-free rule)."""

    left: tuple[int, ...]
    right: tuple[int, ...]

    def on(self, side: int) -> tuple[int, ...]:
        return self.right if side == 1 else self.left


@dataclass(frozen=True, slots=True)
class CheckSetup:
    """What the engine needs besides the checks: each rule's landmarks per side, and the
    driving signal's landmarks per side ("person in view" is judged on them)."""

    rule_landmarks: tuple[RuleLandmarks, ...]
    signal_landmarks: tuple[tuple[int, ...], tuple[int, ...]]


def _signal_rule(sig: SignalDef, side: str, lms: tuple[int, ...]) -> Rule:
    return Rule(
        key=f"{SIGNAL_KEY}@{side}",
        kind=RuleKind[sig.kind.upper()],
        landmarks=lms,
        space=sig.space,
        axis=sig.axis,
        debounce_s=0.0,
        min_visibility=0.3,
        label=sig.label,
    )


def _alternative_rule(alt: AlternativeDef, k: int, side: str, lms: tuple[int, ...]) -> Rule:
    return Rule(
        key=f"{SIGNAL_KEY}{k + 1}@{side}",
        kind=RuleKind[alt.kind.upper()],
        landmarks=lms,
        debounce_s=0.0,
        min_visibility=0.3,
        label=alt.label,
    )


def _rule_columns(rd: RuleDef, rules: list[Rule]) -> tuple[int, int, RuleLandmarks]:
    if _is_sided(rd.landmarks) and rd.side == "auto":
        cols = []
        lms = []
        for side in SIDES:
            ids = tuple(resolve_landmark(n, side) for n in rd.landmarks)
            cols.append(len(rules))
            lms.append(ids)
            rules.append(kernel_rule(rd, ids, f"{rd.key}@{side}"))
        return cols[0], cols[1], RuleLandmarks(lms[0], lms[1])
    side = rd.side if rd.side != "auto" else "left"
    ids = tuple(resolve_landmark(n, side) for n in rd.landmarks)
    rules.append(kernel_rule(rd, ids))
    return len(rules) - 1, len(rules) - 1, RuleLandmarks(ids, ids)


def build_checks(
    exercise: ExerciseDef, targets: Targets, hold_target_s: float, aspect: float = 1.0
) -> tuple[ExerciseChecks, CheckSetup]:
    """The checks for one exercise and patient, and what the engine reads around them."""
    sig = exercise.signal
    rules: list[Rule] = []
    signal_columns: tuple[int, int] | None = None
    signal_lms: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())
    candidates: list[tuple[int, float, float]] = []
    if sig.source == "camera":
        per_side = tuple(tuple(resolve_landmark(n, s) for n in sig.landmarks) for s in SIDES)
        signal_lms = (per_side[0], per_side[1])
        for side, ids in zip(SIDES, per_side, strict=True):
            rules.append(_signal_rule(sig, side, ids))
        signal_columns = (0, 1)
        if sig.alternatives:
            # Alternating limbs: the signal on both sides, and every other limb on both.
            candidates += [(0, math.nan, math.nan), (1, math.nan, math.nan)]
            for k, alt in enumerate(sig.alternatives):
                for side in SIDES:
                    ids = tuple(resolve_landmark(n, side) for n in alt.landmarks)
                    candidates.append((len(rules), alt.start, alt.target))
                    rules.append(_alternative_rule(alt, k, side, ids))
    checked: list[CheckedRule] = []
    landmarks: list[RuleLandmarks] = []
    position = set(exercise.position_rules)
    for rd in exercise.rules:
        left, right, seen = _rule_columns(rd, rules)
        phases = frozenset(RepPhase[p.upper()] for p in rd.phases)
        views = frozenset(VIEWS[v] for v in rd.views)
        checked.append(CheckedRule(left, right, phases, rd.key in position, rd.key, views))
        landmarks.append(seen)
    tempo = exercise.tempo
    hold_mode = exercise.mode == "hold"
    load = exercise.load
    checks = ExerciseChecks(
        rules,
        start=targets.start,
        target=targets.target,
        signal_columns=signal_columns,
        pain_free_limit=targets.pain_free_limit,
        rep_options={
            "leave": sig.leave,
            "back": sig.back,
            "full": sig.full,
            "hysteresis": sig.hysteresis,
            "tempo": (tempo.out_s, tempo.hold_s, tempo.back_s),
            "tempo_tolerance": tempo.tolerance,
            "relative": sig.relative,
        },
        out_is_concentric=tempo.out_is_concentric,
        load_band_n=targets.load_band_n if load is not None else (-math.inf, math.inf),
        load_options={"limit_n": targets.load_limit_n, "rate_limit_n_s": load.max_rate_n_s}
        if load is not None
        else None,
        hold_target_s=hold_target_s if hold_target_s > 0 else math.inf,
        hold_mode=hold_mode,
        checked=checked,
        signal_landmarks=signal_lms,
        side=1 if sig.side == "right" else 0,
        auto_side=sig.side == "auto" and sig.source == "camera",
        smoothing=Smoothing(),
        angle_check=sig.source == "machine",
        signal_candidates=candidates,
        plausible=sig.plausible,
        aspect=aspect,
    )
    return checks, CheckSetup(tuple(landmarks), signal_lms)
