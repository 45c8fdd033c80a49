"""A module with no function of any recognised convention."""


def helper(x):
    return x
