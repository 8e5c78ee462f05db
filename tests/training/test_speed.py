"""The memory roof's numbers: the bandwidth of GPUs by name, the passes an update makes
over its weights, the bytes it moves, a measured copy and a measured update."""

from __future__ import annotations

import pytest
import torch

from depthlab.errors import DepthlabError
from depthlab.training.speed import (copy_bandwidth, device_bandwidth, known_bandwidth, roof_seconds_per_update,
                                     update_bytes, weight_passes)


@pytest.mark.parametrize("name, bandwidth", [
    ("NVIDIA H100 80GB HBM3", 3.35e12), ("NVIDIA H100 PCIe", 2.0e12), ("NVIDIA H100 NVL", 3.9e12),
    ("NVIDIA H200", 4.8e12), ("NVIDIA A100-SXM4-80GB", 2.039e12), ("NVIDIA A100-SXM4-40GB", 1.555e12),
    ("NVIDIA A100 80GB PCIe", 1.935e12), ("Tesla T4", 0.32e12), ("NVIDIA L4", 0.3e12), ("Tesla V100-SXM2-16GB", 0.9e12),
])
def test_a_gpu_is_known_by_the_name_cuda_gives_it(name, bandwidth):
    assert known_bandwidth(name) == bandwidth


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU here is measured")
def test_an_unknown_gpu_not_here_is_one_line_and_a_known_one_is_looked_up():
    assert known_bandwidth("Radeon 7900") is None
    with pytest.raises(DepthlabError, match="no bandwidth is known for the GPU 'Radeon 7900'"):
        device_bandwidth("cuda", "Radeon 7900")
    with pytest.raises(DepthlabError, match="device 'cuda' is not on this machine: name its GPU"):
        device_bandwidth("cuda")
    assert device_bandwidth("cuda", "NVIDIA H200") == (4.8e12, "NVIDIA H200: 4.8 TB/s (data sheet)")


def test_the_passes_of_each_rule():
    assert [weight_passes(), weight_passes(momentum=True), weight_passes(momentum=True, nesterov=True)] == [4, 7, 9]
    assert weight_passes(decay=True) == 6 and weight_passes(momentum=True, decay=True) == 10


def test_the_bytes_of_a_glorot_net_and_a_stack_of_nielsen_nets():
    glorot = 1024 * 1000 + 1000 + 4 * (1000 * 1000 + 1000) + 1000 * 9 + 9  # 5,038,009 parameters
    assert update_bytes([1024, *[1000] * 5, 9], 10) == 4 * (4 * glorot + 6 * 10 * (1024 + 5000 + 9))
    nielsen = 784 * 30 + 30 + 2 * (30 * 30 + 30) + 30 * 10 + 10
    assert update_bytes([784, 30, 30, 30, 10], 10, k=32, passes=7) == 32 * 4 * (7 * nielsen + 6 * 10 * 884)
    # about 80.6 MB per update of the paper's net: 24 µs at an H100 SXM's 3.35 TB/s
    assert roof_seconds_per_update([1024, *[1000] * 5, 9], 10, 1, 4, 3.35e12) == pytest.approx(
        update_bytes([1024, *[1000] * 5, 9], 10) / 3.35e12)


def test_a_measured_copy_is_a_rate_of_this_machine():
    bandwidth = copy_bandwidth("cpu", megabytes=16, repeats=2)
    assert 1e8 < bandwidth < 1e13  # between 100 MB/s and 10 TB/s: a number of bytes per second, not seconds
