"""Errors raised by the SAE loaders."""

from __future__ import annotations


class SAELoadError(ValueError):
    """An SAE could not be loaded: a missing, truncated, corrupt, pickled or mis-shaped file.

    The message names the path, what is wrong and what to do about it.
    """
