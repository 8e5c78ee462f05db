import errno
import pathlib

import pytest

TOO_LARGE = OSError(errno.EFBIG, "File too large")


@pytest.fixture
def writes_cut_short(monkeypatch):
    """``writes_cut_short(name)``: from then on, each ``Path.write_text`` to a file whose
    name holds ``name`` lands half of its text, then fails as a file-size limit makes it."""
    write = pathlib.Path.write_text

    def cut(name: str = "") -> None:
        def half(self, text, *args, **kwargs):
            if name not in self.name:
                return write(self, text, *args, **kwargs)
            write(self, text[: len(text) // 2], *args, **kwargs)
            raise TOO_LARGE

        monkeypatch.setattr(pathlib.Path, "write_text", half)

    return cut
