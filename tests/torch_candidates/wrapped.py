"""A layer whose conv weights live one level down; ``GRADCHECK_WEIGHTS`` says where."""
import torch.nn as nn


class Wrapped(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1)

    def forward(self, x):
        return self.conv(x)


conv2d = Wrapped()
GRADCHECK_WEIGHTS = {"conv2d": {"w": "conv.weight", "b": "conv.bias"}}
