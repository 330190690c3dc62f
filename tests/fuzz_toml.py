"""Hypothesis strategies for hostile TOML files: a valid document with keys replaced, removed
or added, values of every TOML type (huge integers, nan, nested arrays and tables), written
out as real TOML text so the whole loader runs, parser included."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import strategies as st

# Deterministic and quick: the same examples on every run, no timing assertions.
FUZZ = {"derandomize": True, "deadline": None, "database": None, "max_examples": 300}


class Literal(str):
    """A value written to the file as it is (TOML dates and times)."""


SCALARS = st.one_of(
    st.booleans(),
    st.integers(),
    st.sampled_from([0, -1, 2**63, -(2**64), 10**400]),
    st.floats(),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0]),
    st.text(max_size=12),
    st.sampled_from(["", "squat", "camera", "machine", "left", "nan", "P-1", "hip", "knee"]),
    st.sampled_from([Literal("1979-05-27T07:32:00Z"), Literal("1979-05-27"), Literal("07:32:00")]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=10,
)


def toml_value(value: Any) -> str:
    if isinstance(value, Literal):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string (ASCII, escapes included)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def toml_document(data: dict) -> str:
    return "".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in data.items())


def _places(data: Any, path: tuple = ()) -> list[tuple]:
    """Every key path in nested tables and arrays of tables."""
    out = []
    if isinstance(data, dict):
        for k, v in data.items():
            out.append((*path, k))
            out.extend(_places(v, (*path, k)))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out.extend(_places(v, (*path, i)))
    return out


def _parent(data: Any, path: tuple) -> Any:
    for step in path[:-1]:
        data = data[step]
    return data


@st.composite
def mutated(draw: st.DrawFn, base: dict) -> dict:
    """``base`` with one to three keys replaced by any value, removed, or joined by a new one."""
    data = json.loads(json.dumps(base))  # a deep copy
    for _ in range(draw(st.integers(1, 3))):
        places = _places(data)
        if not places:
            break
        path = draw(st.sampled_from(places))
        parent = _parent(data, path)
        action = draw(st.sampled_from(["replace", "replace", "remove", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(VALUES)
        elif action == "remove" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=6))] = draw(VALUES)
    return data


def nested(depth: int, array: bool) -> str:
    """A value nested ``depth`` levels deep, as TOML text."""
    return ("[" * depth + "]" * depth) if array else ("{a = " * depth + "1" + "}" * depth)
