"""Choosing recorded frames for a target: candidate search, the Viterbi decoder and its kernels, the one selection
core."""
