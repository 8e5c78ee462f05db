"""Run files under faults: a full disk leaves the previous state and says so in one line;
a damaged or hand-edited file is one line naming it, from train --resume and inspect."""

import errno
import json
import shutil
import subprocess
import sys

import pytest
import torch

from depthlab.errors import DepthlabError
from depthlab.store import files
from depthlab.store.files import append_jsonl, read_jsonl, write_json
from depthlab.training.trainer import train

SMALL = dict(dataset="shapeset", depth=2, width=16, updates=40, eval_every=20, eval_size=100, probe_size=20,
             jacobian_examples=0)
FULL = OSError(errno.ENOSPC, "No space left on device")


def test_a_json_write_on_a_full_disk_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "status.json"
    write_json(path, {"status": "running", "update": 10})

    def full(self, text, *args, **kwargs):
        raise FULL

    monkeypatch.setattr(files.Path, "write_text", full)
    with pytest.raises(DepthlabError, match=f"^disk full while writing {path}: the run keeps its previous state"):
        write_json(path, {"status": "completed", "update": 20})
    monkeypatch.undo()
    assert json.loads(path.read_text()) == {"status": "running", "update": 10}
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]


class HalfWriter:
    """A file whose write lands half of its text, then finds the disk full."""

    def __init__(self, file):
        self.file = file

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.file.close()

    def tell(self):
        return self.file.tell()

    def truncate(self, size):
        return self.file.truncate(size)

    def write(self, text):
        self.file.write(text[: len(text) // 2])
        self.file.flush()
        raise FULL

    def flush(self):
        self.file.flush()


def test_a_jsonl_append_on_a_full_disk_leaves_only_whole_lines(tmp_path, monkeypatch):
    path = tmp_path / "metrics.jsonl"
    append_jsonl(path, {"update": 1, "train_cost": 2.0})
    monkeypatch.setattr(files, "open", lambda p, mode: HalfWriter(open(p, mode)), raising=False)
    with pytest.raises(DepthlabError, match="disk full while writing"):
        append_jsonl(path, {"update": 2, "train_cost": 1.5})
    monkeypatch.undo()
    append_jsonl(path, {"update": 3, "train_cost": 1.0})
    assert read_jsonl(path) == [{"update": 1, "train_cost": 2.0}, {"update": 3, "train_cost": 1.0}]


def test_a_checkpoint_on_a_full_disk_keeps_the_last_one_and_the_run_resumes(tmp_path, monkeypatch):
    saves, real_save = [], torch.save

    def save(state, path):
        saves.append(path)
        if len(saves) == 2:  # the second checkpoint, at update 40: half written, then the disk is full
            path.write_bytes(b"PK\x03\x04 half a checkpoint")
            raise FULL
        real_save(state, path)

    monkeypatch.setattr(torch, "save", save)
    with pytest.raises(DepthlabError, match="disk full while writing .*checkpoint.pt"):
        train(SMALL, out=tmp_path / "run", progress=False)
    monkeypatch.undo()
    assert sorted(p.name for p in (tmp_path / "run").iterdir() if p.suffix == ".tmp") == []
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert state["update"] == 20  # the first checkpoint, whole
    from depthlab.training.trainer import resume

    assert resume(tmp_path / "run", progress=False).status == "completed"


CORRUPTIONS = [
    ("config.json", "{oops", "config.json is not valid JSON"),
    ("config.json", "[1]", "config.json holds a JSON list, not the object a run writes"),
    ("status.json", "nope", "status.json is not valid JSON"),
    ("status.json", '{"status": "flying"}', "status.json holds status 'flying', not one of"),
    ("final.json", "3", "final.json holds a JSON int"),
    ("metrics.jsonl", '{"train_cost": 1}\n', "metrics.jsonl:1: a record without \"update\""),
    ("checkpoint.pt", "", "checkpoint.pt is not a checkpoint depthlab wrote"),
    ("checkpoint.pt", "hello", "checkpoint.pt is not a checkpoint depthlab wrote"),
    ("network.json", '{"widths": 3}', "network.json does not hold \"input_shape\" and \"widths\" lists"),
]


NOT_READ = {("inspect", "checkpoint.pt"), ("resume", "final.json")}
"""inspect reads no checkpoint; a resumed run writes final.json anew."""


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    return train(SMALL, out=tmp_path_factory.mktemp("finished") / "run", progress=False).path


CASES = [(command, *case) for command in ("resume", "inspect") for case in CORRUPTIONS
         if (command, case[0]) not in NOT_READ]


@pytest.mark.parametrize("command, name, content, message", CASES,
                         ids=[f"{command}-{name}:{content[:6]}" for command, name, content, _ in CASES])
def test_a_damaged_run_file_is_one_line_naming_it(finished, tmp_path, command, name, content, message):
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    (run / name).write_text(content)
    args = ["train", "--resume", str(run), "--updates", "60", "--quiet"] if command == "resume" else ["inspect",
                                                                                                      str(run)]
    done = subprocess.run([sys.executable, "-m", "depthlab", *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr[-1000:]
    assert done.stderr.count("\n") == 1 and message in done.stderr and "Traceback" not in done.stderr


def test_a_width_edited_in_config_json_is_one_line(finished, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "width": 32}))
    network = json.loads((run / "network.json").read_text())  # edited alike: the checkpoint alone differs
    (run / "network.json").write_text(json.dumps({**network, "widths": [network["widths"][0], 32, 32,
                                                                         network["widths"][-1]]}))
    done = subprocess.run([sys.executable, "-m", "depthlab", "train", "--resume", str(run), "--updates", "60"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "checkpoint.pt does not fit the run's config.json (was either edited?): size mismatch for" in done.stderr


def test_a_writer_failing_its_own_way_leaves_the_old_file_and_no_temporary_one(tmp_path):
    path = tmp_path / "figure.png"
    path.write_bytes(b"old")

    def fails(tmp):
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        files.replace_durably(path, fails)
    assert [(p.name, p.read_bytes()) for p in tmp_path.iterdir()] == [("figure.png", b"old")]


def test_two_writers_of_one_file_each_write_it_whole(tmp_path):
    path = tmp_path / "report.html"

    def first(tmp):
        tmp.write_text("first")
        files.replace_durably(path, lambda other: other.write_text("second"))  # a second sweep --report

    files.replace_durably(path, first)
    assert path.read_text() == "first" and list(tmp_path.iterdir()) == [path]


# -- damaged records, from each command that reads them (#27 item 9) ---------------------

GRID = """dataset = "shapeset"
depth = 2
width = 8
updates = 40
eval_every = 20
probe_every = 20
eval_size = 50
probe_size = 20
jacobian_examples = 0

[axes]
lr = [0.01]
"""


def _edit_line(name: str, line: int, change):
    """A damage: line ``line`` (1-based) of the JSONL file ``name`` as ``change(record)``
    makes it (a string: the line's new text)."""
    def damage(run):
        lines = (run / name).read_text().splitlines()
        new = change(json.loads(lines[line - 1]))
        lines[line - 1] = new if isinstance(new, str) else json.dumps(new)
        (run / name).write_text("\n".join(lines) + "\n")
    return damage


def _edit_json(name: str, **values):
    def damage(run):
        (run / name).write_text(json.dumps({**json.loads((run / name).read_text()), **values}))
    return damage


def _row(index: int, **values):
    """A change of a probe record's row ``index`` (None: a value removed)."""
    def change(record):
        row = record["rows"][index]
        for key, value in values.items():
            row.pop(key) if value is None else row.__setitem__(key, value)
        return record
    return change


def _insert_bytes(name: str, at: int, data: bytes):
    def damage(run):
        text = (run / name).read_bytes()
        (run / name).write_bytes(text[:at] + data + text[at:])
    return damage


DAMAGES = {  # name: (damage, the file it damages, what the line says after the file's path)
    "rows-not-a-list": (_edit_line("probes.jsonl", 2, lambda r: {**r, "rows": "abc"}), "probes.jsonl",
                        ":2: not a probe record (it needs \"update\", a whole number, and \"rows\" and "
                        "\"histograms\", lists)"),
    "row-without-update": (_edit_line("probes.jsonl", 2, _row(2, update=None)), "probes.jsonl",
                           ":2: row 3: \"update\" is None, not its record's 1"),
    "a-second-row": (_edit_line("probes.jsonl", 2, lambda r: {**r, "rows": r["rows"] + r["rows"][:1]}),
                     "probes.jsonl", ":2: row {rows}: a second row of {stat} at layer 1"),
    "a-string-value": (_edit_line("probes.jsonl", 2, _row(0, value="0.5")), "probes.jsonl",
                       ":2: row 1: \"value\" is '0.5', not a number"),
    "a-record-that-is-a-list": (_edit_line("probes.jsonl", 2, lambda r: "[1, 2]"), "probes.jsonl",
                                ":2: a JSON list, not the object a run writes"),
    "histogram-counts": (_edit_line("probes.jsonl", 1, lambda r: {**r, "histograms": [
        {**r["histograms"][0], "counts": "x"}, *r["histograms"][1:]]}), "probes.jsonl",
        ":1: histogram 1: \"edges\" and \"counts\" must be lists of numbers, one more edge than counts"),
    "probes-not-utf8": (_insert_bytes("probes.jsonl", 10, b"\xff"), "probes.jsonl", ":1: not UTF-8 text"),
    "metrics-not-utf8": (_insert_bytes("metrics.jsonl", 10, b"\xff\xfe"), "metrics.jsonl", ":1: not UTF-8 text"),
    "metrics-string": (_edit_line("metrics.jsonl", 2, lambda r: {**r, "validation_error": "0.5"}), "metrics.jsonl",
                       ":2: \"validation_error\" is '0.5', not a number"),
    "metrics-update-bool": (_edit_line("metrics.jsonl", 2, lambda r: {**r, "update": True}), "metrics.jsonl",
                            ":2: \"update\" is True, not a whole number of updates"),
    "final-string-error": (_edit_json("final.json", validation_error="high"), "final.json",
                           ": \"validation_error\" is 'high', not a number"),
    "final-update-string": (_edit_json("final.json", update="40"), "final.json",
                            ": \"update\" is '40', not a whole number of updates"),
    "status-update-negative": (_edit_json("status.json", update=-3), "status.json",
                               ": \"update\" is -3, not a whole number of updates"),
}

READS = {"inspect": {"probes.jsonl", "metrics.jsonl", "final.json", "status.json"},
         "resume": {"probes.jsonl", "metrics.jsonl", "status.json", "final.json"},  # whether it ended for good
         "report": {"metrics.jsonl", "final.json", "status.json"}}  # the sweep's report draws no probes


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    from depthlab.sweeps.sweep import sweep

    folder = tmp_path_factory.mktemp("swept")
    (folder / "grid.toml").write_text(GRID)
    sweep(folder / "grid.toml", folder / "sweep", progress=False)
    return folder / "sweep"


DAMAGE_CASES = [(command, damage) for command in READS for damage in DAMAGES]


@pytest.mark.parametrize("command, damage", DAMAGE_CASES, ids=[f"{c}-{d}" for c, d in DAMAGE_CASES])
def test_a_damaged_record_is_one_line_naming_its_file_and_line(swept, tmp_path, capsys, command, damage):
    from depthlab.cli import main

    folder = tmp_path / "sweep"
    shutil.copytree(swept, folder)
    run = folder / "runs" / "lr0.01"
    damage_it, name, said = DAMAGES[damage]
    probes = [json.loads(line) for line in (run / "probes.jsonl").read_text().splitlines()]
    said = said.format(rows=len(probes[1]["rows"]) + 1, stat=probes[1]["rows"][0]["stat"])
    damage_it(run)
    kept = {path.name: path.read_bytes() for path in run.iterdir() if path.is_file() and path.name != ".lock"}
    args = {"inspect": ["inspect", str(run), "--out", str(tmp_path / "report")],
            "resume": ["train", "--resume", str(run), "--updates", "60", "--quiet"],
            "report": ["sweep", "--report", str(folder)]}[command]
    code = main(args)
    err = capsys.readouterr().err
    if name not in READS[command]:  # the command does without that file
        assert code == 0 and err == ""
        if command == "resume":
            assert json.loads((run / "final.json").read_text())["update"] == 60
        return
    assert code == 2
    assert err == f"depthlab: error: {run / name}{said}" + (
        "\n" if "UTF-8" in said else "; the file was damaged or edited by hand\n")
    if command == "resume":  # refused before training: nothing written
        assert {path.name: path.read_bytes() for path in run.iterdir() if path.is_file() and path.name != ".lock"} == kept


@pytest.mark.parametrize("record, texts, message", [
    ({"train_cost": 1.0}, (), 'a record without "update"'),
    ({"update": -1}, (), '"update" is -1, not a whole number of updates'),
    ({"update": 2, "cost": "nan"}, (), '"cost" is \'nan\', not a number'),
    ({"update": 2, "cost": 1.5}, ("cost",), '"cost" is 1.5, not a string'),
    ({"update": 2, "x": [1.0] * 30}, (), '"x" is [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0…, not a number'),
])
def test_a_record_of_numbers_is_checked_key_by_key(record, texts, message):
    with pytest.raises(DepthlabError) as raised:
        files.check_record("f.json", record, texts)
    assert str(raised.value) == f"f.json: {message}; the file was damaged or edited by hand"
    ok = {"update": 3, "value": float("nan"), "none": None, "status": "completed"}
    assert files.check_record("f.json", ok, ("status",)) is ok
