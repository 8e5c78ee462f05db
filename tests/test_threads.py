import os
import subprocess
import sys

import pytest
import torch

from depthlab.errors import DepthlabError
from depthlab.threads import available_cores, check_threads, share, using


def openmp_settings(code: str, **env: str) -> dict[str, str]:
    """The settings torch's OpenMP runtime reports it read (``OMP_DISPLAY_ENV=VERBOSE``)
    in a fresh process running ``code``, with the OpenMP variables of this one removed."""
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    result = subprocess.run([sys.executable, "-c", code], env={**clean, **env, "OMP_DISPLAY_ENV": "VERBOSE"},
                            capture_output=True, text=True, check=True)
    pairs = (line.strip().split(" = ", 1) for line in result.stderr.splitlines() if " = " in line)
    return {key: value.strip("'") for key, value in pairs}


def test_importing_depthlab_before_torch_makes_openmp_threads_sleep_at_once_when_they_wait():
    settings = openmp_settings("import depthlab, torch")
    assert settings["GOMP_SPINCOUNT"] == "0"  # a passive wait; OpenMP's default spins 300,000 times


def test_torch_imported_first_keeps_openmps_default_and_depthlab_says_so():
    code = "import torch, depthlab, depthlab.threads as t; assert t.wait_policy_applied() is False"
    assert openmp_settings(code)["GOMP_SPINCOUNT"] == "300000"


@pytest.mark.parametrize("variable, value, spin", [("OMP_WAIT_POLICY", "active", None),
                                                   ("GOMP_SPINCOUNT", "5000", "5000")])
def test_a_users_own_wait_setting_is_kept(variable, value, spin):
    settings = openmp_settings("import depthlab, torch", **{variable: value})
    assert settings["GOMP_SPINCOUNT"] != "0"
    if spin:
        assert settings["GOMP_SPINCOUNT"] == spin


def test_workers_share_the_cores_evenly_and_each_gets_at_least_one():
    cores = available_cores()
    assert share(1) == cores
    assert share(2) == max(1, cores // 2)
    assert share(cores * 3) == 1


@pytest.mark.parametrize("threads", [0, -1, 2.5, True, available_cores() + 1])
def test_a_thread_count_outside_the_cores_here_is_one_line(threads):
    with pytest.raises(DepthlabError, match=rf"threads {threads!r} must be a whole number from 1 to "
                                            rf"{available_cores()} \(the cores here\)"):
        check_threads(threads)


def test_a_ray_task_may_ask_for_more_threads_than_there_are_cores_here():
    assert check_threads(available_cores() + 1, local=False) == available_cores() + 1
    with pytest.raises(DepthlabError, match="threads 0 must be a whole number from 1 or more"):
        check_threads(0, local=False)


def test_using_sets_the_count_for_the_block_and_gives_back_the_one_before():
    before = torch.get_num_threads()
    with using(1) as count:
        assert count == 1 == torch.get_num_threads()
    assert torch.get_num_threads() == before
    with using(None) as count:
        assert count == before
