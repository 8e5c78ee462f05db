"""A grid's named choices: a backend and a stacking are members of a closed set, given by
name, and a bad one is one line naming the choices."""

import importlib.util
import json
import socket

import pytest
from fakes import closed_port

from depthlab.errors import DepthlabError
from depthlab.grid import Backend, Stacking, check_backend
from depthlab.grid.spec import check_address


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
    assert check_backend("ray", "auto") is Backend.RAY


def test_an_address_nothing_answers_is_one_line_at_once():
    port = closed_port()
    for address in (f"127.0.0.1:{port}", f"ray://127.0.0.1:{port}"):
        with pytest.raises(DepthlabError) as raised:
            check_address(address)
        assert str(raised.value) == (f"cannot reach the Ray cluster at {address}: Connection refused (is ray start "
                                     "--head running there, and is the port right?)")
    with pytest.raises(DepthlabError, match="^cannot reach the Ray cluster at nowhere.invalid:6379: "):
        check_address("nowhere.invalid:6379")


@pytest.mark.parametrize("address", ["head", "head:", ":6379", "head:0", "head:65536", "head:port", "ray://"])
def test_an_address_that_is_not_host_and_port_is_one_line(address):
    with pytest.raises(DepthlabError) as raised:
        check_address(address)
    assert str(raised.value) == (f"--address {address!r} is not a Ray cluster's address: give host:port (the head's "
                                 "port, 6379 unless ray start --port said otherwise), ray://host:port or one of "
                                 "auto, local")


def test_an_address_that_answers_passes_and_rays_own_are_left_to_ray(monkeypatch):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        check_address(f"127.0.0.1:{port}")
        check_address(f"[::ffff:127.0.0.1]:{port}")
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: pytest.fail("probed"))
    check_address("auto"), check_address("local")
