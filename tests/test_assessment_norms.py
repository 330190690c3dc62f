"""The norm file and its loader: lookups by test, sex and age band, "no norm", the comparison
figures, and the validation that refuses an entry without its source."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from assessment.errors import AssessmentError, NormFileError, NormQueryError
from assessment.norms import (
    NORM_FILE,
    BandPosition,
    BandRule,
    Sex,
    band_position,
    compare,
    load_norms,
    percent_of_norm,
    z_score,
)

DOCS = Path(__file__).resolve().parents[1] / "docs" / "norms.md"

TJ_FLEX = "lumbar_flexion_eom_inclinometer"
TJ_EXT = "lumbar_extension_eom_inclinometer"
EXTENSOR = "trunk_extensor_endurance_sorensen"
CHAIR = "chair_stand_30s"


@pytest.fixture(scope="module")
def norms():
    return load_norms()


# -- the shipped file ------------------------------------------------------------------


def test_shipped_file_is_version_1_and_every_entry_names_its_source(norms):
    assert NORM_FILE.name == "norms_v1.toml"
    assert norms.version == "1"
    assert len(norms.norms) == 32
    for norm in norms.norms:
        assert norm.source.authors and norm.source.journal and norm.source.pages
        assert norm.table.strip() and norm.page.strip()
        assert norm.verified or norm.note, f"{norm.test} {norm.age_band} unverified, no note"
        assert norms.test_info(norm.test) is not None


def test_only_values_read_in_the_source_are_marked_verified(norms):
    verified = {(n.test, n.sex, n.age_band): n.mean for n in norms.norms if n.verified}
    assert verified == {
        (TJ_FLEX, Sex.FEMALE, "20-39"): 20.1,
        (TJ_FLEX, Sex.FEMALE, "40-59"): 15.2,
        (TJ_FLEX, Sex.FEMALE, "60-83"): 12.8,
        (TJ_EXT, Sex.FEMALE, "20-39"): 61.6,
        (TJ_EXT, Sex.FEMALE, "40-59"): 56.6,
        (TJ_EXT, Sex.FEMALE, "60-83"): 50.8,
        ("endurance_ratio_side_bridge_extensor", Sex.MALE, "18-30"): 0.65,
        ("endurance_ratio_side_bridge_extensor", Sex.FEMALE, "18-30"): 0.39,
    }
    chair = [n for n in norms.norms if n.test == CHAIR]
    assert chair and not any(n.verified for n in chair)


def test_unverified_times_agree_with_the_ratios_in_the_retrieved_abstract(norms):
    # McGill's times are from memory; the abstract's side bridge / extensor figures are not.
    for sex in Sex:
        ext = norms.lookup(EXTENSOR, sex, 22).mean
        right = norms.lookup("side_bridge_endurance_right", sex, 22).mean
        left = norms.lookup("side_bridge_endurance_left", sex, 22).mean
        flexor = norms.lookup("trunk_flexor_endurance", sex, 22).mean
        stated = norms.lookup("endurance_ratio_side_bridge_extensor", sex, 22).mean
        assert (right + left) / 2 / ext == pytest.approx(stated, abs=0.006)
        flex_ext = norms.lookup("endurance_ratio_flexor_extensor", sex, 22).mean
        assert flexor / ext == pytest.approx(flex_ext, abs=0.006)
        right_left = norms.lookup("endurance_ratio_side_bridge_right_left", sex, 22).mean
        assert right / left == pytest.approx(right_left, abs=0.011)


def test_docs_name_every_test_with_a_norm_and_every_gap(norms):
    text = DOCS.read_text(encoding="utf-8")
    for test in {n.test for n in norms.norms}:
        assert f"`{test}`" in text, test
    for gap in norms.no_norms:
        for test in gap.tests:
            assert f"`{test}`" in text, test


# -- lookups and age band edges -------------------------------------------------------


def test_lookup_returns_mean_sd_n_band_and_source(norms):
    norm = norms.lookup(TJ_EXT, Sex.FEMALE, 25)
    assert (norm.mean, norm.n, norm.age_band, norm.unit) == (61.6, 126, "20-39", "deg")
    assert math.isnan(norm.sd) and norm.band is None and norm.band_rule is BandRule.NONE
    assert norm.source.key == "trudelle_jackson_2010"
    assert norm.source.doi == "10.1097/BRS.0b013e3181b0c3d1"
    assert norm.page == "1539"

    men = norms.lookup(EXTENSOR, Sex.MALE, 22)
    assert (men.mean, men.sd, men.n) == (146.0, 51.0, 31)
    assert men.band == (44.0, 248.0)
    assert not men.verified and "memory" in men.note


@pytest.mark.parametrize(
    ("age", "band"),
    [
        (19.99, None),
        (20, "20-39"),
        (39, "20-39"),
        (39.99, "20-39"),
        (40, "40-59"),
        (59, "40-59"),
        (60, "60-83"),
        (83, "60-83"),
        (83.5, "60-83"),
        (84, None),
    ],
)
def test_age_band_edges_in_whole_years(norms, age, band):
    norm = norms.lookup(TJ_FLEX, Sex.FEMALE, age)
    assert (norm.age_band if norm else None) == band


@pytest.mark.parametrize(
    ("sex", "age", "normal"),
    [
        (Sex.FEMALE, 59, None),
        (Sex.FEMALE, 60, (12.0, 17.0)),
        (Sex.FEMALE, 64, (12.0, 17.0)),
        (Sex.FEMALE, 65, (11.0, 16.0)),
        (Sex.FEMALE, 94, (4.0, 11.0)),
        (Sex.FEMALE, 95, None),
        (Sex.MALE, 64, (14.0, 19.0)),
        (Sex.MALE, 65, None),  # the copies disagree: left out
        (Sex.MALE, 69, None),
        (Sex.MALE, 70, (12.0, 17.0)),
        (Sex.MALE, 86, None),
        (Sex.MALE, 90, (7.0, 12.0)),
    ],
)
def test_chair_stand_bands_by_sex_and_age(norms, sex, age, normal):
    norm = norms.lookup(CHAIR, sex, age)
    assert (norm.band if norm else None) == normal


def test_no_norm_where_nothing_was_published_or_retrieved(norms):
    assert norms.lookup(TJ_EXT, Sex.MALE, 30) is None  # women-only source
    assert norms.lookup(EXTENSOR, Sex.FEMALE, 31) is None  # young adults' norm only
    assert norms.lookup("lumbar_flexion_range_ca6000", Sex.MALE, 40) is None  # Troke
    assert norms.lookup("isometric_lumbar_extension_torque_36", Sex.MALE, 40) is None  # Graves
    assert norms.lookup("no_such_test", Sex.MALE, 40) is None
    # Each gap says why.
    assert any("Troke" in s for g in norms.gaps("lumbar_flexion_range_ca6000") for s in g.sources)
    assert "not available to us" in norms.gaps("isometric_lumbar_extension_torque_0")[0].reason
    assert norms.test_info("lumbar_flexion_range_ca6000") is None


def test_verified_only_hides_values_not_read_in_the_source(norms):
    assert norms.lookup(EXTENSOR, Sex.MALE, 22, verified_only=True) is None
    assert norms.lookup(EXTENSOR, Sex.MALE, 22) is not None
    assert norms.lookup(TJ_EXT, Sex.FEMALE, 45, verified_only=True).mean == 56.6


@pytest.mark.parametrize("age", [math.nan, math.inf, -1, "40", True, None])
def test_an_impossible_age_is_refused(norms, age):
    with pytest.raises(NormQueryError):
        norms.lookup(TJ_EXT, Sex.FEMALE, age)


def test_sex_must_be_the_enum(norms):
    with pytest.raises(NormQueryError, match="Sex"):
        norms.lookup(TJ_EXT, "female", 30)


# -- percent of norm, z-score, band ----------------------------------------------------


def test_percent_z_and_band_against_mean_and_sd(norms):
    men = norms.lookup(EXTENSOR, Sex.MALE, 22)  # 146 +/- 51 s
    assert percent_of_norm(73.0, men) == pytest.approx(50.0)
    assert z_score(95.0, men) == pytest.approx(-1.0)
    assert band_position(44.0, men) is BandPosition.WITHIN  # mean - 2 SD exactly: inclusive
    assert band_position(43.9, men) is BandPosition.BELOW
    assert band_position(248.0, men) is BandPosition.WITHIN
    assert band_position(248.1, men) is BandPosition.ABOVE
    result = compare(20.0, men)
    assert result.position is BandPosition.BELOW
    assert result.z_score == pytest.approx((20.0 - 146.0) / 51.0)
    assert result.percent_of_norm == pytest.approx(100.0 * 20.0 / 146.0)


def test_a_mean_without_sd_gives_percent_but_no_z_and_no_flag(norms):
    norm = norms.lookup(TJ_EXT, Sex.FEMALE, 70)  # 50.8 deg, no SD retrieved
    result = compare(25.4, norm)
    assert result.percent_of_norm == pytest.approx(50.0)
    assert result.z_score is None
    assert result.position is BandPosition.UNKNOWN


def test_a_range_without_mean_gives_the_flag_but_no_percent(norms):
    norm = norms.lookup(CHAIR, Sex.FEMALE, 62)  # 12-17 stands
    assert [band_position(v, norm) for v in (11.0, 12.0, 17.0, 18.0)] == [
        BandPosition.BELOW,
        BandPosition.WITHIN,
        BandPosition.WITHIN,
        BandPosition.ABOVE,
    ]
    assert percent_of_norm(15.0, norm) is None
    assert z_score(15.0, norm) is None


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_result_that_is_not_a_number_is_not_compared(norms, value):
    result = compare(value, norms.lookup(EXTENSOR, Sex.FEMALE, 25))
    assert result.percent_of_norm is None and result.z_score is None
    assert result.position is BandPosition.UNKNOWN


# -- validation of a norm file ---------------------------------------------------------

VALID = """
schema = 1
version = "test"

[sources.paper]
authors = "A B"
year = 2000
title = "T"
journal = "J"
volume = "1"
pages = "1-2"
population = "P"
method = "M"
retrieved = "full text"

[tests.hold]
unit = "s"
label = "Hold"
method = "M"
spinecoach = "S"

[[norm]]
test = "hold"
sex = "male"
age_min = 20
age_max = 29
mean = 100.0
sd = 20.0
n = 10
band = "mean_2sd"
source = "paper"
table = "Table 1"
page = "2"
verified = true

[[no_norm]]
tests = ["other"]
scope = "all"
reason = "none published"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "norms.toml"
    path.write_text(text, encoding="utf-8")
    return path


def broken(tmp_path: Path, old: str, new: str) -> Path:
    assert old in VALID
    return write(tmp_path, VALID.replace(old, new, 1))


def test_the_minimal_valid_file_loads(tmp_path):
    table = load_norms(write(tmp_path, VALID))
    norm = table.lookup("hold", Sex.MALE, 25)
    assert norm.band == (60.0, 140.0) and norm.source.citation() == "A B. T. J 2000;1:1-2"


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('source = "paper"\n', "", "norm[0].source"),  # no source at all
        ('source = "paper"', 'source = "unknown"', "norm[0].source"),
        ('table = "Table 1"\n', "", "norm[0].table"),
        ('page = "2"', 'page = "  "', "norm[0].page"),
        ("verified = true", "verified = false", "norm[0].note"),  # unverified needs a note
        ("verified = true", 'verified = "yes"', "norm[0].verified"),
        ("sd = 20.0\n", "", "norm[0].sd"),  # mean_2sd without SD
        ("sd = 20.0", "sd = 0.0", "norm[0].sd"),
        ("mean = 100.0", "mean = inf", "norm[0].mean"),
        ("mean = 100.0", "mean = nan", "norm[0].mean"),
        ("age_max = 29", "age_max = 19", "norm[0].age_max"),
        ("age_min = 20", "age_min = 20.5", "norm[0].age_min"),
        ('sex = "male"', 'sex = "m"', "norm[0].sex"),
        ('band = "mean_2sd"', 'band = "source_range"', "norm[0].normal_low"),
        ('band = "mean_2sd"', 'band = "1.5sd"', "norm[0].band"),
        ("\nn = 10\n", "\nn = 0\n", "norm[0].n"),
        ("\nn = 10\n", "\nsdd = 1.0\n", "norm[0].sdd"),  # a typo is not silently ignored
        ('test = "hold"', 'test = "unknown"', "norm[0].test"),
        ("year = 2000", 'year = "2000"', "sources.paper.year"),
        ('retrieved = "full text"\n', "", "sources.paper.retrieved"),
        ("schema = 1", "schema = 2", "schema"),
        ('tests = ["other"]', "tests = []", "no_norm[0].tests"),
    ],
)
def test_validation_refuses_a_broken_entry(tmp_path, old, new, key):
    with pytest.raises(NormFileError) as err:
        load_norms(broken(tmp_path, old, new))
    assert err.value.key == key
    assert str(err.value).startswith(f"{tmp_path / 'norms.toml'}: {key}: expected ")


def test_validation_refuses_overlapping_age_bands(tmp_path):
    second = VALID.split("[[norm]]")[1].split("[[no_norm]]")[0]
    second = second.replace("age_min = 20", "age_min = 29").replace("age_max = 29", "age_max = 39")
    text = VALID.replace("[[no_norm]]", "[[norm]]" + second + "[[no_norm]]")
    with pytest.raises(NormFileError, match=re.escape("overlap with 20-29")):
        load_norms(write(tmp_path, text))


def test_a_source_range_needs_both_ends_and_no_range_without_it(tmp_path):
    ranged = VALID.replace('band = "mean_2sd"', 'band = "source_range"').replace(
        "\nn = 10\n", "\nnormal_low = 80.0\nnormal_high = 120.0\n"
    )
    assert load_norms(write(tmp_path, ranged)).norms[0].band == (80.0, 120.0)
    with pytest.raises(NormFileError, match="normal_high"):
        load_norms(write(tmp_path, ranged.replace("normal_high = 120.0", "normal_high = 70.0")))
    stray = VALID.replace("\nn = 10\n", "\nnormal_low = 80.0\n")
    with pytest.raises(NormFileError, match="unless band = source_range"):
        load_norms(write(tmp_path, stray))


def test_a_missing_or_unreadable_file_is_one_clear_error(tmp_path):
    with pytest.raises(NormFileError, match="a readable norm file"):
        load_norms(tmp_path / "absent.toml")
    with pytest.raises(NormFileError, match="valid TOML"):
        load_norms(write(tmp_path, "schema = = 1"))
    with pytest.raises(NormFileError, match="values nested too deeply"):
        load_norms(write(tmp_path, "a = " + "[" * 5000 + "]" * 5000))
    assert issubclass(NormFileError, AssessmentError)
