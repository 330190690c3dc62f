"""Turns an exercise's rules and camera signal into one compiled rule set, both body sides.

Side-specific rules are compiled once per side; each frame the working side is the one whose
signal landmarks are better seen (sticky, so the choice does not flicker), and only that
side's results are reported. One kernel call per frame evaluates everything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from body.landmarks import INDEX
from exercises.schema import ExerciseDef, RuleDef, SignalDef, kernel_rule
from kernels.rules import Rule, RuleKind, RuleSet

SIGNAL_KEY = "__signal"
_SWITCH_MARGIN = 0.15  # visibility lead the other side needs before the working side switches


def resolve_landmark(name: str, side: str) -> int:
    """``"knee"`` on side ``"left"`` -> index of ``left_knee``; full names pass through."""
    if name in INDEX:
        return INDEX[name]
    return INDEX[f"{side}_{name}"]


def _is_sided(names: tuple[str, ...]) -> bool:
    return any(n not in INDEX for n in names)


@dataclass(frozen=True, slots=True)
class CompiledRule:
    definition: RuleDef
    column_left: int
    column_right: int  # equal to column_left for side-free rules


class ExerciseMeasures:
    """Per-frame measurement of the camera signal and posture rules of one exercise."""

    def __init__(self, exercise: ExerciseDef, aspect: float = 1.0) -> None:
        self.exercise = exercise
        rules: list[Rule] = []
        self.compiled: list[CompiledRule] = []
        sig = exercise.signal
        self._signal_cols = (-1, -1)
        self._signal_landmarks: dict[str, tuple[int, ...]] = {"left": (), "right": ()}
        if sig.source == "camera":
            cols = []
            for side in ("left", "right"):
                lms = tuple(resolve_landmark(n, side) for n in sig.landmarks)
                self._signal_landmarks[side] = lms
                cols.append(len(rules))
                rules.append(self._signal_rule(sig, side, lms))
            self._signal_cols = (cols[0], cols[1])
        for rd in exercise.rules:
            sides = ("left", "right") if _is_sided(rd.landmarks) and rd.side == "auto" else (None,)
            cols = []
            for side in sides:
                use_side = side or (rd.side if rd.side != "auto" else "left")
                lms = tuple(resolve_landmark(n, use_side) for n in rd.landmarks)
                cols.append(len(rules))
                rules.append(kernel_rule(rd, lms, f"{rd.key}@{side}" if side else None))
            self.compiled.append(CompiledRule(rd, cols[0], cols[-1]))
        self.rule_set = RuleSet(rules, aspect=aspect)
        self.side = "left" if sig.side == "auto" else sig.side
        self._auto_side = sig.side == "auto"

    @staticmethod
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

    def fix_side(self, side: str) -> None:
        """Work on this side only ("left" or "right"), whatever is better seen."""
        if side not in ("left", "right"):
            raise ValueError(f"side: expected 'left' or 'right', got {side!r}")
        self.side = side
        self._auto_side = False

    def set_aspect(self, aspect: float) -> None:
        if math.isfinite(aspect) and aspect > 0 and aspect != self.rule_set.aspect:
            self.rule_set = RuleSet(self.rule_set.rules, aspect=aspect)

    def _choose_side(self, visibility: np.ndarray) -> None:
        if not self._auto_side or not self._signal_landmarks["left"]:
            return
        score = {
            s: float(np.nanmin(visibility[list(lms)])) if lms else 0.0
            for s, lms in self._signal_landmarks.items()
        }
        other = "right" if self.side == "left" else "left"
        if score[other] > score[self.side] + _SWITCH_MARGIN:
            self.side = other

    def evaluate(
        self, xy: np.ndarray, world: np.ndarray, visibility: np.ndarray, t: float
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """Returns (camera signal value or NaN, status int8 (n_rules,), value (n_rules,)) with
        one entry per exercise rule, in definition order, for the working side."""
        vis = np.nan_to_num(np.asarray(visibility, dtype=np.float64), nan=0.0)
        self._choose_side(vis)
        status_all, value_all = self.rule_set.evaluate(xy, world, vis, t)
        right = self.side == "right"
        signal = math.nan
        if self._signal_cols[0] >= 0:
            signal = float(value_all[self._signal_cols[1] if right else self._signal_cols[0]])
        cols = [c.column_right if right else c.column_left for c in self.compiled]
        return signal, status_all[cols], value_all[cols]

    def rule_landmarks(self, i: int) -> tuple[int, ...]:
        c = self.compiled[i]
        col = c.column_right if self.side == "right" else c.column_left
        return self.rule_set.rules[col].landmarks

    def signal_landmarks(self) -> tuple[int, ...]:
        return self._signal_landmarks.get(self.side, ())
