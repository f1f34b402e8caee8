"""The engine: loading models, hook points and hooks, tokens and batches, the unembedding."""
