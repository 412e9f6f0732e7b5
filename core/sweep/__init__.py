"""Sweeps: the grid of dynamic-beta hedge strategies, its kernels (CPU, GPU, cluster), ledger and
scoring.
"""
