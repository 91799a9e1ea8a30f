"""Batch jobs: submit a file, claim and process it in committed chunks, export results."""
