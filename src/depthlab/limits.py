"""What a run can hold: the largest values depthlab accepts, and whether what a run would
allocate fits this machine's memory, checked before anything is allocated.

Each refusal is one line naming the value, the limit and, for memory, the size in GB.
"""

from __future__ import annotations

import os

from depthlab.errors import DepthlabError

MAX_DEPTH = 10_000
"""Hidden layers: far beyond the deepest trainable plain networks (about 6 ξ_c, hundreds)."""
MAX_UPDATES = 2**53
"""Updates of one run: the largest count a JSON reader holds exactly (metrics and probes
record update numbers)."""
MAX_SEED = 2**63 - 1
"""Seeds: torch's generator takes 64-bit seeds."""
FLOAT_BYTES = 4


def machine_memory() -> int | None:
    """This machine's physical memory in bytes (None where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_fits(what: str, nbytes: float, hint: str = "") -> None:
    """Refuse, in one line with the size in GB, ``what`` needing more than this
    machine's memory."""
    memory = machine_memory()
    if memory is not None and nbytes > memory:
        gb = nbytes / 2**30
        raise DepthlabError(f"{what} would take {gb:,.0f} GB, more than this machine's {memory / 2**30:.3g} GB"
                            + (f"; {hint}" if hint else ""))


def check_at_most(name: str, value: float, limit: float, why: str) -> None:
    """One line when ``value`` exceeds ``limit``."""
    if value > limit:
        raise DepthlabError(f"{name} {value:g} is beyond {limit:g}, the largest depthlab accepts ({why})")


def parameter_count(widths: list[int]) -> int:
    """The weights and biases of a fully connected net with layer ``widths`` (input first)."""
    return sum(n_in * n_out + n_out for n_in, n_out in zip(widths, widths[1:]))


def network_bytes(widths: list[int]) -> int:
    """The float32 weights and biases of a fully connected net with layer ``widths``
    (input first), twice over: the parameters and their gradients."""
    return 2 * FLOAT_BYTES * parameter_count(widths)
