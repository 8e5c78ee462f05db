import pytest
from torch import nn


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
