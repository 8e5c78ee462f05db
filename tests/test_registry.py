"""The one lookup convention: entries by name, families with an argument, one error."""

import sys
from dataclasses import dataclass

import pytest

from depthlab.errors import DepthlabError
from depthlab.registry import Choice, Registry, deferred


@dataclass(frozen=True)
class Thing:
    name: str
    size: float = 1.0


def things() -> Registry[Thing]:
    registry = Registry("thing", [Thing("small"), Thing("large", 10.0)])
    registry.register_family("sized", "SIZE", lambda argument: Thing(f"sized:{argument}", float(argument)))
    return registry


def test_entries_come_back_by_name_and_in_declaration_order():
    registry = things()
    assert registry.get("large").size == 10.0
    assert [t.name for t in registry] == ["small", "large"]
    assert registry.choices() == ["small", "large", "sized:SIZE"]
    assert "small" in registry and "sized:3" in registry and "huge" not in registry and 3 not in registry


def test_a_family_builds_its_entry_from_the_argument():
    assert things().get("sized:2.5") == Thing("sized:2.5", 2.5)


def test_an_unknown_name_is_one_line_with_a_suggestion_and_every_choice():
    with pytest.raises(DepthlabError) as error:
        things().get("smal")
    assert str(error.value) == "unknown thing 'smal' (did you mean 'small'?); valid choices: large, sized:SIZE, small"


def test_a_name_that_is_not_a_string_is_named():
    with pytest.raises(DepthlabError, match=r"^thing must be a name, not 3; valid choices: small, large, sized:SIZE$"):
        things().get(3)


def test_a_taken_name_is_refused_unless_replaced_in_place():
    registry = things()
    with pytest.raises(ValueError, match="'small' is taken"):
        registry.register(Thing("small"))
    with pytest.raises(ValueError, match="'sized' is taken"):
        registry.register(Thing("sized"))
    registry.register(Thing("small", 0.5), replace=True)
    assert [(t.name, t.size) for t in registry] == [("small", 0.5), ("large", 10.0)]


def test_unregister_removes_entries_and_families():
    registry = things()
    registry.unregister("large")
    registry.unregister("sized")
    assert registry.choices() == ["small"]
    with pytest.raises(DepthlabError, match="unknown thing 'large'"):
        registry.unregister("large")


def test_deferred_imports_its_target_at_the_first_call():
    sys.modules.pop("colorsys", None)
    hls = deferred("colorsys:rgb_to_hls", 1.0)
    assert "colorsys" not in sys.modules
    assert hls(0.0, 0.0) == (0.0, 0.5, 1.0)
    assert "colorsys" in sys.modules
    assert repr(hls) == "deferred('colorsys:rgb_to_hls', 1.0)"


class _Colour(Choice, kind="colour"):
    RED = "red"
    BLUE = "blue"


def test_choice_members_are_their_names():
    import json

    assert _Colour.parse("red") is _Colour.RED and _Colour.parse(_Colour.BLUE) is _Colour.BLUE
    assert _Colour.RED == "red" and f"{_Colour.RED}" == "red" and str(_Colour.BLUE) == "blue"
    assert json.dumps({"c": _Colour.RED}) == '{"c": "red"}'
    assert _Colour.names() == ("red", "blue")


def test_choice_parse_is_one_line_with_the_choices():
    with pytest.raises(DepthlabError, match=r"unknown colour 'rde' \(did you mean 'red'\?\); valid choices: blue, red"):
        _Colour.parse("rde")
