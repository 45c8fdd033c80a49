"""The same stride-1, undilated conv2d, declaring its constraints up front instead: cases with
a stride or a dilation are never drawn."""
from reference import conv2d_backward, conv2d_forward  # noqa: F401

GRADCHECK_CONSTRAINTS = {"conv2d": {"stride": False, "dilation": False}}
