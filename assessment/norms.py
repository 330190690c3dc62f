"""Published normative values by test, sex and age band, read from a versioned data file.

``load_norms()`` reads and validates ``assessment/norms/norms_v1.toml`` (every entry must name
its source with table and page); ``NormTable.lookup(test, sex, age)`` returns the one norm that
applies, or ``None`` for "no norm". ``percent_of_norm``, ``z_score`` and ``band_position``
compare a result with it. What the normal band means is set per entry (``BandRule``) and
explained in docs/norms.md.

(The data lives in the folder ``norms/`` beside this module; the folder has no
``__init__.py``, so ``assessment.norms`` is this module.)
"""

from __future__ import annotations

import enum
import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assessment.errors import NormFileError, NormQueryError

NORM_FILE = Path(__file__).with_name("norms") / "norms_v1.toml"
SCHEMA = 1
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_MISSING = object()


class Sex(enum.Enum):
    FEMALE = "female"
    MALE = "male"


class BandRule(enum.Enum):
    """What "normal" means for one entry."""

    MEAN_2SD = "mean_2sd"  # mean - 2 SD .. mean + 2 SD, both inclusive
    SOURCE_RANGE = "source_range"  # the source's own normal range, both ends inclusive
    NONE = "none"  # the source gives no spread we could use: no normal/abnormal flag


class BandPosition(enum.Enum):
    BELOW = "below"
    WITHIN = "within"
    ABOVE = "above"
    UNKNOWN = "unknown"  # no band for this norm, or the result is not a finite number


@dataclass(frozen=True, slots=True)
class Source:
    key: str
    authors: str
    year: int
    title: str
    journal: str
    volume: str
    pages: str
    doi: str  # "" when not given
    population: str
    method: str
    retrieved: str  # what was actually read to fill the file

    def citation(self) -> str:
        return (
            f"{self.authors}. {self.title}. {self.journal} {self.year};{self.volume}:{self.pages}"
        )


@dataclass(frozen=True, slots=True)
class TestInfo:
    """One measured quantity, tied to one measurement method."""

    id: str
    unit: str
    label: str
    method: str  # device and position: a norm is comparable only with the same method
    spinecoach: str  # how SpineCoach's own measurement differs


@dataclass(frozen=True, slots=True)
class Norm:
    test: str
    sex: Sex
    age_min: int  # whole years, inclusive
    age_max: int  # whole years, inclusive
    unit: str
    mean: float  # NaN: the source's mean was not retrieved (range-only norm)
    sd: float  # NaN: no SD retrieved
    n: int | None  # group size, None when not retrieved
    normal_low: float  # NaN unless band_rule is SOURCE_RANGE
    normal_high: float
    band_rule: BandRule
    source: Source
    table: str
    page: str
    verified: bool  # read in the source's own text, not from memory or a secondary copy
    note: str

    @property
    def age_band(self) -> str:
        return f"{self.age_min}-{self.age_max}"

    @property
    def band(self) -> tuple[float, float] | None:
        """The normal band (low, high), or None where the entry has none."""
        if self.band_rule is BandRule.MEAN_2SD:
            return (self.mean - 2.0 * self.sd, self.mean + 2.0 * self.sd)
        if self.band_rule is BandRule.SOURCE_RANGE:
            return (self.normal_low, self.normal_high)
        return None


@dataclass(frozen=True, slots=True)
class NoNorm:
    """A documented gap: tests (or parts of them) with no norm, and why."""

    tests: tuple[str, ...]
    scope: str
    reason: str
    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NormTable:
    version: str
    path: str
    tests: tuple[TestInfo, ...]
    norms: tuple[Norm, ...]
    no_norms: tuple[NoNorm, ...]

    def lookup(
        self, test: str, sex: Sex, age_years: float, *, verified_only: bool = False
    ) -> Norm | None:
        """The norm for this test, sex and age (whole years), or None for "no norm"."""
        if not isinstance(sex, Sex):
            raise NormQueryError(f"sex must be a Sex, found {sex!r}")
        age = _whole_years(age_years)
        for norm in self.norms:
            if norm.test == test and norm.sex is sex and norm.age_min <= age <= norm.age_max:
                return None if verified_only and not norm.verified else norm
        return None

    def test_info(self, test: str) -> TestInfo | None:
        return next((t for t in self.tests if t.id == test), None)

    def gaps(self, test: str) -> tuple[NoNorm, ...]:
        return tuple(g for g in self.no_norms if test in g.tests)


@dataclass(frozen=True, slots=True)
class Comparison:
    """One result against its norm: what a report prints beside the number."""

    value: float
    norm: Norm
    percent_of_norm: float | None
    z_score: float | None
    position: BandPosition


def percent_of_norm(value: float, norm: Norm) -> float | None:
    """100 x value / mean; None without a finite result or a positive published mean."""
    if not _finite(value) or not _finite(norm.mean) or norm.mean <= 0.0:
        return None
    return 100.0 * value / norm.mean


def z_score(value: float, norm: Norm) -> float | None:
    """(value - mean) / SD; None without a finite result, a mean and an SD."""
    if not _finite(value) or not _finite(norm.mean) or not _finite(norm.sd):
        return None
    return (value - norm.mean) / norm.sd


def band_position(value: float, norm: Norm) -> BandPosition:
    band = norm.band
    if band is None or not _finite(value):
        return BandPosition.UNKNOWN
    low, high = band
    if value < low:
        return BandPosition.BELOW
    if value > high:
        return BandPosition.ABOVE
    return BandPosition.WITHIN


def compare(value: float, norm: Norm) -> Comparison:
    return Comparison(
        value=value,
        norm=norm,
        percent_of_norm=percent_of_norm(value, norm),
        z_score=z_score(value, norm),
        position=band_position(value, norm),
    )


def load_norms(path: str | Path = NORM_FILE) -> NormTable:
    """Read and validate a norm file; any broken rule raises ``NormFileError``."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise NormFileError(path, "", "a readable norm file", exc.strerror or str(exc)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise NormFileError(path, "", "valid TOML", str(exc)) from exc
    except RecursionError:
        raise NormFileError(path, "", "valid TOML", "values nested too deeply") from None
    return _Reader(path).table(data)


def _whole_years(age_years: float) -> int:
    if isinstance(age_years, bool) or not isinstance(age_years, int | float):
        raise NormQueryError(f"age must be a number of years, found {age_years!r}")
    if not math.isfinite(age_years) or age_years < 0:
        raise NormQueryError(f"age must be a finite number of years >= 0, found {age_years!r}")
    return math.floor(age_years)


def _finite(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


class _Reader:
    """Turns the parsed TOML into frozen records, refusing anything the rules do not allow."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, expected: str, found: object) -> NormFileError:
        return NormFileError(self.path, key, expected, found)

    def table(self, data: dict[str, Any]) -> NormTable:
        self.only(data, "", {"schema", "version", "sources", "tests", "norm", "no_norm"})
        schema = data.get("schema", _MISSING)
        if schema != SCHEMA or isinstance(schema, bool):
            raise self.fail("schema", f"{SCHEMA}", "nothing" if schema is _MISSING else schema)
        version = self.text(data, "version", "")
        sources = {key: self.source(key, raw) for key, raw in self.mapping(data, "sources").items()}
        tests = {key: self.test(key, raw) for key, raw in self.mapping(data, "tests").items()}
        raw_norms = self.array(data, "norm", required=True)
        norms = tuple(
            self.norm(f"norm[{i}]", raw, sources, tests) for i, raw in enumerate(raw_norms)
        )
        self.no_overlap(norms)
        raw_gaps = self.array(data, "no_norm", required=False)
        gaps = tuple(self.gap(f"no_norm[{i}]", raw) for i, raw in enumerate(raw_gaps))
        return NormTable(version, str(self.path), tuple(tests.values()), norms, gaps)

    def source(self, key: str, raw: object) -> Source:
        where = f"sources.{key}"
        raw = self.as_table(where, raw)
        self.identifier(where, key)
        text_keys = ("authors", "title", "journal", "volume", "pages", "population", "method")
        self.only(raw, where, {*text_keys, "year", "doi", "retrieved"})
        year = raw.get("year", _MISSING)
        if isinstance(year, bool) or not isinstance(year, int) or not 1800 <= year <= 2100:
            raise self.fail(f"{where}.year", "a publication year", self.shown(year))
        texts = {k: self.text(raw, k, where) for k in (*text_keys, "retrieved")}
        doi = self.text(raw, "doi", where) if "doi" in raw else ""
        return Source(key=key, year=year, doi=doi, **texts)

    def test(self, key: str, raw: object) -> TestInfo:
        where = f"tests.{key}"
        raw = self.as_table(where, raw)
        self.identifier(where, key)
        self.only(raw, where, {"unit", "label", "method", "spinecoach"})
        return TestInfo(
            id=key,
            unit=self.text(raw, "unit", where),
            label=self.text(raw, "label", where),
            method=self.text(raw, "method", where),
            spinecoach=self.text(raw, "spinecoach", where),
        )

    def norm(
        self, where: str, raw: object, sources: dict[str, Source], tests: dict[str, TestInfo]
    ) -> Norm:
        raw = self.as_table(where, raw)
        required = {"test", "sex", "age_min", "age_max", "band", "source", "table", "page"}
        optional = {"mean", "sd", "n", "normal_low", "normal_high", "note"}
        self.only(raw, where, required | optional | {"verified"})
        source_key = raw.get("source", _MISSING)
        if source_key not in sources:
            raise self.fail(
                f"{where}.source", "the key of an entry in [sources]", self.shown(source_key)
            )
        table, page = self.text(raw, "table", where), self.text(raw, "page", where)
        test = raw.get("test", _MISSING)
        if test not in tests:
            raise self.fail(f"{where}.test", "the id of an entry in [tests]", self.shown(test))
        sex = self.choice(raw, "sex", where, Sex)
        band_rule = self.choice(raw, "band", where, BandRule)
        age_min, age_max = self.age(raw, "age_min", where), self.age(raw, "age_max", where)
        if age_max < age_min:
            raise self.fail(f"{where}.age_max", f"a value >= age_min ({age_min})", age_max)
        verified = raw.get("verified", _MISSING)
        if not isinstance(verified, bool):
            raise self.fail(f"{where}.verified", "true or false", self.shown(verified))
        if not verified and "note" not in raw:
            raise self.fail(
                f"{where}.note", "where the value comes from (verified = false)", "nothing"
            )
        note = self.text(raw, "note", where) if "note" in raw else ""
        mean, sd = self.number(raw, "mean", where), self.number(raw, "sd", where)
        if _finite(sd) and sd <= 0.0:
            raise self.fail(f"{where}.sd", "a value > 0", sd)
        low, high = self.number(raw, "normal_low", where), self.number(raw, "normal_high", where)
        self.band_fields(where, band_rule, mean, sd, low, high)
        return Norm(
            test=test,
            sex=sex,
            age_min=age_min,
            age_max=age_max,
            unit=tests[test].unit,
            mean=mean,
            sd=sd,
            n=self.count(raw, "n", where),
            normal_low=low,
            normal_high=high,
            band_rule=band_rule,
            source=sources[source_key],
            table=table,
            page=page,
            verified=verified,
            note=note,
        )

    def band_fields(
        self, where: str, rule: BandRule, mean: float, sd: float, low: float, high: float
    ) -> None:
        has_range = _finite(low) or _finite(high)
        if rule is BandRule.SOURCE_RANGE:
            for key, value in (("normal_low", low), ("normal_high", high)):
                if not _finite(value):
                    raise self.fail(f"{where}.{key}", "a number (band = source_range)", "nothing")
            if not low < high:
                raise self.fail(f"{where}.normal_high", f"a value > normal_low ({low})", high)
            return
        if has_range:
            key = "normal_low" if _finite(low) else "normal_high"
            raise self.fail(f"{where}.{key}", "no normal range unless band = source_range", key)
        if not _finite(mean):
            raise self.fail(f"{where}.mean", f"a number (band = {rule.value})", "nothing")
        if rule is BandRule.MEAN_2SD and not _finite(sd):
            raise self.fail(f"{where}.sd", "a number (band = mean_2sd)", "nothing")

    def no_overlap(self, norms: tuple[Norm, ...]) -> None:
        seen: dict[tuple[str, Sex], list[Norm]] = {}
        for norm in norms:
            for other in seen.setdefault((norm.test, norm.sex), []):
                if norm.age_min <= other.age_max and other.age_min <= norm.age_max:
                    raise self.fail(
                        f"norm {norm.test} {norm.sex.value} {norm.age_band}",
                        "age bands that do not overlap for one test and sex",
                        f"overlap with {other.age_band}",
                    )
            seen[(norm.test, norm.sex)].append(norm)

    def gap(self, where: str, raw: object) -> NoNorm:
        raw = self.as_table(where, raw)
        self.only(raw, where, {"tests", "scope", "reason", "sources"})
        tests = raw.get("tests", _MISSING)
        if not isinstance(tests, list) or not tests:
            raise self.fail(f"{where}.tests", "a non-empty list of test ids", self.shown(tests))
        for i, test in enumerate(tests):
            self.identifier(f"{where}.tests[{i}]", test)
        sources = raw.get("sources", [])
        if not isinstance(sources, list) or not all(isinstance(s, str) and s for s in sources):
            raise self.fail(f"{where}.sources", "a list of citations", sources)
        return NoNorm(
            tests=tuple(tests),
            scope=self.text(raw, "scope", where),
            reason=self.text(raw, "reason", where),
            sources=tuple(sources),
        )

    # -- small typed readers ------------------------------------------------------------

    def only(self, raw: dict[str, Any], where: str, allowed: set[str]) -> None:
        for key in raw:
            if key not in allowed:
                name = f"{where}.{key}" if where else key
                raise self.fail(name, f"one of {', '.join(sorted(allowed))}", "an unknown key")

    def as_table(self, where: str, raw: object) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise self.fail(where, "a table", raw)
        return raw

    def mapping(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        raw = data.get(key, _MISSING)
        if not isinstance(raw, dict) or not raw:
            raise self.fail(key, "a non-empty table", self.shown(raw))
        return raw

    def array(self, data: dict[str, Any], key: str, *, required: bool) -> list[Any]:
        raw = data.get(key, _MISSING if required else [])
        if not isinstance(raw, list) or (required and not raw):
            raise self.fail(key, "an array of tables ([[...]])", self.shown(raw))
        return raw

    def identifier(self, where: str, value: object) -> None:
        if not isinstance(value, str) or not _ID.match(value):
            raise self.fail(where, "an id of lower-case letters, digits and _", value)

    def text(self, raw: dict[str, Any], key: str, where: str) -> str:
        value = raw.get(key, _MISSING)
        if not isinstance(value, str) or not value.strip():
            name = f"{where}.{key}" if where else key
            raise self.fail(name, "a non-empty string", self.shown(value))
        return value.strip()

    def choice(self, raw: dict[str, Any], key: str, where: str, kind: type[enum.Enum]) -> Any:
        value = raw.get(key, _MISSING)
        try:
            return kind(value)
        except ValueError:
            names = ", ".join(m.value for m in kind)
            raise self.fail(f"{where}.{key}", f"one of {names}", self.shown(value)) from None

    def age(self, raw: dict[str, Any], key: str, where: str) -> int:
        value = raw.get(key, _MISSING)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 120:
            raise self.fail(f"{where}.{key}", "whole years from 0 to 120", self.shown(value))
        return value

    def number(self, raw: dict[str, Any], key: str, where: str) -> float:
        if key not in raw:
            return math.nan
        value = raw[key]
        if not _finite(value):
            raise self.fail(f"{where}.{key}", "a finite number", value)
        return float(value)

    def count(self, raw: dict[str, Any], key: str, where: str) -> int | None:
        if key not in raw:
            return None
        value = raw[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.fail(f"{where}.{key}", "a whole number >= 1", value)
        return value

    @staticmethod
    def shown(value: object) -> object:
        return "nothing" if value is _MISSING else value
