import pytest
from torch import nn

from depthlab.probe import stats


class SmallConvNet(nn.Module):
    """A user's model that is not a depthlab MLP: conv1 → activation → flatten → fc, on
    1×8×8 inputs, 4 classes."""

    def __init__(self, activation: nn.Module):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 3, 3)
        self.act = activation
        self.fc = nn.Linear(3 * 6 * 6, 4)

    def forward(self, x):
        return self.fc(self.act(self.conv1(x)).flatten(1))


@pytest.fixture(scope="session")
def conv_net():
    """SmallConvNet(activation) for the tests."""
    return SmallConvNet


@pytest.fixture(params=["host", "device"])
def reduced_on(request, monkeypatch):
    """Each test twice: with values reduced on the host (numpy, the CPU's path), and with
    HOST_REDUCED emptied so that the CPU takes the device path (torch reductions left as
    tensors, read once per measure), the path of a GPU, which CI does not have."""
    if request.param == "device":
        monkeypatch.setattr(stats, "HOST_REDUCED", set())
    return request.param
