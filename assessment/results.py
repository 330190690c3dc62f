"""Test results, compared with the norm file: value, norm mean and SD, percent of norm, z-score,
the band position and its flag; left/right asymmetry and ratios from pairs of tests.

A test that could not be measured keeps its reason and is never compared. A test with no norm
says why: the protocol's own reason, the norm file's documented gap for the test id, or that
the patient's sex or age is not recorded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from assessment.norms import BandPosition, NormTable, Sex, compare
from assessment.protocols import DerivedDef, DerivedKind, Protocol, TestDef


@dataclass(frozen=True, slots=True)
class TestResult:
    """One test as measured: the best of its trials, or why it could not be measured."""

    __test__ = False

    test_id: str
    kind: str  # TestKind or DerivedKind value
    label: str
    unit: str
    value: float  # NaN when not measured
    reason: str = ""  # why it could not be measured; "" when it was
    trials: tuple[float, ...] = ()  # the counted trials' values, in order
    rejected: tuple[str, ...] = ()  # why each trial that did not count was refused
    angle_deg: float = math.nan  # machine: the reached angle (range) or the test angle
    direction: str = ""
    side: str = ""
    at_least: bool = False  # a hold still going when the test ended: the value is a minimum

    @property
    def measured(self) -> bool:
        return not self.reason and math.isfinite(self.value)


@dataclass(frozen=True, slots=True)
class NormNote:
    """A result against its norm (or why there is none), as reports and screens show it."""

    norm_test: str = ""
    mean: float = math.nan
    sd: float = math.nan
    band: tuple[float, float] = (math.nan, math.nan)
    percent: float = math.nan
    z: float = math.nan
    position: BandPosition = BandPosition.UNKNOWN
    source: str = ""  # citation, table and page
    verified: bool = False
    no_norm: str = ""  # why there is no norm; "" when there is one
    flag_note: str = ""  # what the flag means when it is not a published band

    @property
    def has_norm(self) -> bool:
        return not self.no_norm

    @property
    def flagged(self) -> bool:
        return self.position in (BandPosition.BELOW, BandPosition.ABOVE)


@dataclass(frozen=True, slots=True)
class ComparedResult:
    result: TestResult
    norm: NormNote = field(default_factory=NormNote)


@dataclass(frozen=True, slots=True)
class PatientFacts:
    """What a norm lookup needs; either may be unknown (no norm then)."""

    sex: Sex | None
    age_years: int | None


def _f(x: float | None) -> float:
    return math.nan if x is None else float(x)


def norm_note(
    norm_test: str, no_norm: str, value: float, norms: NormTable, facts: PatientFacts
) -> NormNote:
    if not norm_test:
        return NormNote(no_norm=no_norm)
    if facts.sex is None or facts.age_years is None:
        missing = " and ".join(
            w for w, v in (("sex", facts.sex), ("age", facts.age_years)) if v is None
        )
        return NormNote(norm_test=norm_test, no_norm=f"the patient's {missing} is not recorded")
    norm = norms.lookup(norm_test, facts.sex, facts.age_years)
    if norm is None:
        gaps = norms.gaps(norm_test)
        why = gaps[0].reason if gaps else "no entry in the norm file"
        who = f"{facts.sex.value}, {facts.age_years} years"
        return NormNote(norm_test=norm_test, no_norm=f"no norm for {who}: {why}")
    c = compare(value, norm)
    band = norm.band or (math.nan, math.nan)
    source = f"{norm.source.citation()}; {norm.table}, p. {norm.page}"
    return NormNote(
        norm_test=norm_test,
        mean=norm.mean,
        sd=norm.sd,
        band=band,
        percent=_f(c.percent_of_norm),
        z=_f(c.z_score),
        position=c.position,
        source=source,
        verified=norm.verified,
    )


def compare_results(
    protocol: Protocol, results: list[TestResult], norms: NormTable, facts: PatientFacts
) -> list[ComparedResult]:
    """Every test's result against its norm, then the protocol's derived results."""
    out: list[ComparedResult] = []
    by_id = {r.test_id: r for r in results}
    for test in protocol.tests:
        r = by_id.get(test.id) or not_run(test, "not run")
        if not r.measured:
            out.append(ComparedResult(r, NormNote(norm_test=test.norm_test, no_norm=test.no_norm)))
            continue
        out.append(
            ComparedResult(r, norm_note(test.norm_test, test.no_norm, r.value, norms, facts))
        )
    for d in protocol.derived:
        r = derive(d, by_id.get(d.of[0]), by_id.get(d.of[1]))
        if not r.measured:
            out.append(ComparedResult(r, NormNote(norm_test=d.norm_test, no_norm=d.no_norm)))
            continue
        note = norm_note(d.norm_test, d.no_norm, r.value, norms, facts)
        if d.kind is DerivedKind.ASYMMETRY and math.isfinite(d.flag_above):
            position = BandPosition.ABOVE if r.value > d.flag_above else BandPosition.WITHIN
            note = replace(note, position=position, band=(0.0, d.flag_above), flag_note=d.flag_note)
        out.append(ComparedResult(r, note))
    return out


def not_run(test: TestDef, reason: str) -> TestResult:
    return TestResult(
        test.id,
        test.kind.value,
        test.label,
        test.unit,
        math.nan,
        reason=reason,
        direction=test.direction,
        side=test.side,
        angle_deg=test.angle_deg,
    )


def derive(d: DerivedDef, a: TestResult | None, b: TestResult | None) -> TestResult:
    """Asymmetry (percent), ratio or span of two results; not measured if either is not."""
    unit = {DerivedKind.ASYMMETRY: "%", DerivedKind.RATIO: "ratio"}.get(d.kind, a.unit if a else "")
    missing = [x for x, r in zip(d.of, (a, b), strict=True) if r is None or not r.measured]
    if missing:
        why = f"needs {' and '.join(missing)}, not measured"
        return TestResult(d.id, d.kind.value, d.label, unit, math.nan, reason=why)
    assert a is not None and b is not None
    if d.kind is DerivedKind.ASYMMETRY:
        big = max(abs(a.value), abs(b.value))
        if big == 0:
            return TestResult(d.id, d.kind.value, d.label, unit, math.nan, reason="both are zero")
        value = 100.0 * abs(a.value - b.value) / big
    elif d.kind is DerivedKind.RATIO:
        if b.value == 0:
            return TestResult(
                d.id, d.kind.value, d.label, unit, math.nan, reason=f"{d.of[1]} is zero"
            )
        value = a.value / b.value
    else:
        # A span of two machine ranges: from one reached angle to the other.
        va = a.angle_deg if math.isfinite(a.angle_deg) else a.value
        vb = b.angle_deg if math.isfinite(b.angle_deg) else b.value
        value = abs(va - vb)
    return TestResult(d.id, d.kind.value, d.label, unit, value)
