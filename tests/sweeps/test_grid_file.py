"""Grid files: the axes' product, ranges, run names, and one line for every mistake."""

from __future__ import annotations

import pytest

from depthlab.errors import DepthlabError
from depthlab.sweeps.grid_file import load_grid, parse_grid, run_name


def grid_file(tmp_path, text: str):
    path = tmp_path / "grid.toml"
    path.write_text(text)
    return path


def test_the_grid_is_the_product_of_its_axes_over_the_base(tmp_path):
    grid = load_grid(grid_file(tmp_path, 'dataset = "shapeset"\nbatch-size = 20\n[axes]\nlr = [0.01, 0.1]\n'
                                         'seed = [0, 1, 2]\n'))
    assert grid.base == {"dataset": "shapeset", "batch_size": 20}
    assert grid.points == [{"lr": lr, "seed": s} for lr in (0.01, 0.1) for s in (0, 1, 2)]
    specs = grid.specs()
    assert [s.name for s in specs][:2] == ["lr0.01-seed0", "lr0.01-seed1"]
    assert all(s.config.batch_size == 20 and s.config.dataset == "shapeset" for s in specs)
    assert specs[-1].config.lr == 0.1 and specs[-1].config.seed == 2


def test_ranges_are_evenly_spaced_and_whole_for_integer_keys():
    grid = parse_grid({"axes": {"depth": {"lin": [10, 100], "num": 10}, "lr": {"log": [1e-4, 1e-1], "num": 4},
                                "weight-decay": {"lin": [0, 1], "num": 3}}})
    assert grid.axes["depth"] == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert grid.axes["lr"] == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1])
    assert grid.axes["weight_decay"] == [0.0, 0.5, 1.0]
    assert parse_grid({"axes": {"width": {"lin": [10, 12], "num": 5}}}).axes["width"] == [10, 11, 12]


def test_run_names_are_paths_of_one_folder():
    assert run_name({"init": "sigma-w2:1.5", "dataset": "arrays:/a/b.npz", "batchnorm": True}) == \
        "initsigma-w2-1.5-datasetarrays--a-b.npz-batchnormtrue"


@pytest.mark.parametrize("values, message", [
    ({"lr": 0.1}, "has no [axes] table"),
    ({"axes": {"lrr": [0.1]}}, "unknown key in grid [axes]: 'lrr' (did you mean 'lr'?); valid choices:"),
    ({"dataset": "shapeset", "widht": 3, "axes": {"lr": [0.1]}},
     "unknown key in grid: 'widht' (did you mean 'width'?)"),
    ({"axes": {"lr": []}}, "axis 'lr' lists no values"),
    ({"axes": {"lr": {"log": [0, 1], "num": 3}}}, "a log range needs positive ends"),
    ({"axes": {"lr": {"lin": [0.1, 1]}}}, "axis 'lr' must be a list of values or {lin = [FROM, TO], num = N}"),
    ({"axes": {"lr": {"lin": [0.1], "num": 2}}}, "lin takes two numbers [FROM, TO]"),
    ({"axes": {"lr": {"lin": [0.1, 1], "num": 0}}}, "num must be a whole number of values, at least 1"),
    ({"axes": {"depth": ["deep"]}}, "'depth' must be int, not 'deep'"),
    ({"axes": {"lr": 0.1}}, "axis 'lr' must be a list of values or a range table"),
    ({"axes": {"seed": {"lin": [0, 10 ** 6], "num": 10 ** 6}}}, "more than 100,000"),
    ({"axes": {"lr": {"lin": [1, float("inf")], "num": 3}}}, "axis 'lr': lin takes two finite numbers [FROM, TO], "
                                                              "not [1, inf]"),
    ({"axes": {"depth": {"lin": [float("nan"), 3], "num": 3}}}, "two finite numbers [FROM, TO], not [nan, 3]"),
    ({"axes": {"lr": {"log": [1e-3, float("inf")], "num": 2}}}, "log takes two finite numbers"),
    ({"axes": {"lr": {"lin": [1, 10 ** 400], "num": 3}}}, "axis 'lr': lin takes two finite numbers [FROM, TO], "
                                                           "not a whole number of 401 digits"),
    # counted before any value is made: 10^12 values would not fit in memory
    ({"axes": {"lr": {"lin": [1, 1000], "num": 10 ** 12}}}, "axis 'lr': num 1,000,000,000,000 would make more than "
                                                             "100,000 runs"),
    ({"dataset": "arrays:/data/a\0.npz", "axes": {"lr": [0.1]}},
     "grid point lr0.1: dataset 'arrays:/data/a\\x00.npz' holds a NUL byte, which no file path can hold"),
    ({"axes": {"data-dir": ["/data", "/da\0ta"]}}, "data-dir '/da\\x00ta' holds a NUL byte"),
])
def test_every_mistake_is_one_line_naming_it(values, message):
    with pytest.raises(DepthlabError) as error:
        parse_grid(values).specs()
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_missing_grid_file_is_named(tmp_path):
    with pytest.raises(DepthlabError, match=f"^grid file {tmp_path / 'none.toml'} does not exist$"):
        load_grid(tmp_path / "none.toml")


def test_a_bad_point_is_named_before_anything_runs():
    with pytest.raises(DepthlabError, match="grid point lr-1: lr -1.0 must be a positive finite number"):
        parse_grid({"axes": {"lr": [0.1, -1]}}).specs()
    with pytest.raises(DepthlabError, match="grid point datasetmnsit: unknown dataset 'mnsit'"):
        parse_grid({"axes": {"dataset": ["mnsit"]}}).specs()


def test_a_grid_file_path_with_a_nul_byte_is_named(tmp_path):
    with pytest.raises(DepthlabError, match=r"^grid file '.*/g\\x00.toml' holds a NUL byte, which no file path can "
                                            "hold$"):
        load_grid(tmp_path / "g\0.toml")
