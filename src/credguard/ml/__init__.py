"""Models: training, the JSON model artifact, and the registry of what scores each product.

Importing this package is cheap: LightGBM is imported by ``credguard.ml.training`` only.
"""
