"""A relu that computes in float32 and forgets to cast back to its input's dtype."""
import torch


def relu(x):
    return torch.relu(x.float())
