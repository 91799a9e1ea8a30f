"""The batch CSV contract: reading client files, normalising values, CPF checks, exclusion codes.

Everything here works on whole columns (Polars); no Python loop over rows.
"""
