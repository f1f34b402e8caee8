"""Steering: the request (features, directions, method, positions), its hooks, generation and streaming."""
from .edit import apply
from .generation import MAX_REPETITION_PENALTY, REPETITION_PENALTY, GenerationStream, check_sampling, sampling_kwargs, seeded
from .request import DEFAULT_POSITIONS, MAX_ABS_COEFFICIENT, METHODS, POSITIONS, Direction, Steering, validate

__all__ = ["apply", "validate", "Steering", "Direction", "METHODS", "POSITIONS", "DEFAULT_POSITIONS", "MAX_ABS_COEFFICIENT",
           "GenerationStream", "MAX_REPETITION_PENALTY", "REPETITION_PENALTY", "check_sampling", "sampling_kwargs", "seeded"]
