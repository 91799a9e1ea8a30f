"""Scoring: features, table look-up prediction, 0–1000 score and band, reason codes.

Pure functions over whole columns (Polars / NumPy): no I/O, no loop over rows, no LightGBM.
"""
