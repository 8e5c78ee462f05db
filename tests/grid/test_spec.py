"""A grid's named choices: a backend and a stacking are members of a closed set, given by
name, and a bad one is one line naming the choices."""

import importlib.util
import json

import pytest

from depthlab.errors import DepthlabError
from depthlab.grid import Backend, Stacking, check_backend


def test_a_choice_is_its_name():
    assert check_backend("local") is Backend.LOCAL and Stacking.parse("always") is Stacking.ALWAYS
    assert Stacking.parse(Stacking.NEVER) is Stacking.NEVER
    assert json.dumps([Backend.RAY, Stacking.AUTO]) == '["ray", "auto"]' and f"{Stacking.NEVER}" == "never"
    assert Stacking.names() == ("auto", "always", "never")


@pytest.mark.parametrize("call, message", [
    (lambda: check_backend("spark"), "unknown backend 'spark'; valid choices: local, ray"),
    (lambda: check_backend("local", "ray://head:10001"), "--address names a Ray cluster: give it with --backend ray"),
    (lambda: Stacking.parse("stacked"), "unknown stacking 'stacked'; valid choices: always, auto, never"),
])
def test_a_bad_choice_is_one_line(call, message):
    with pytest.raises(DepthlabError) as raised:
        call()
    assert str(raised.value) == message


def test_ray_is_a_backend_only_where_it_is_installed(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(DepthlabError, match="--backend ray needs Ray, which is not installed"):
        check_backend("ray")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object())
    assert check_backend("ray", "ray://head:10001") is Backend.RAY
