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


NOT_READ = {("inspect", "checkpoint.pt"), ("resume", "final.json"), ("resume", "network.json")}
"""inspect reads no checkpoint; a resumed run writes final.json anew and takes its shape from config.json."""


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
    done = subprocess.run([sys.executable, "-m", "depthlab", "train", "--resume", str(run), "--updates", "60"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "checkpoint.pt does not fit the run's config.json (was either edited?): size mismatch for" in done.stderr
