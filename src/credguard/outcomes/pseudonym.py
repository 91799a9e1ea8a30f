"""The pseudonym of a CPF in the training store: HMAC-SHA256 under a key CredGuard keeps.

A keyed hash, not a plain one: the 10⁹ possible CPF bodies are few enough to hash them all, so
an unkeyed SHA-256 could be reversed by anyone holding the table. With the key kept apart from
the database (``CREDGUARD_PSEUDONYM_KEY``), the table alone says nothing about who a row is.

The same CPF under the same key always gives the same pseudonym; that is how a resent outcome
replaces the earlier one. Losing or changing the key therefore breaks that matching: outcomes
sent afterwards get new pseudonyms, are stored beside the old ones instead of replacing them,
a customer's old and new outcomes can no longer be told to be the same person's, and they no
longer link to the score snapshots copied under the old key. Keep the key with the database
backups.
"""

from __future__ import annotations

import hmac

import polars as pl

from credguard.config import Settings
from credguard.security import keys


def pseudonym_key(settings: Settings) -> bytes:
    """The pseudonym key: configured, or in development one kept (0600) in the data dir."""
    return keys.configured_or_kept(
        settings,
        settings.pseudonym_key,
        variable="CREDGUARD_PSEUDONYM_KEY",
        file_name="pseudonym.key",
    ).encode()


def cpf_hashes(cpfs: pl.Series, key: bytes) -> pl.Series:
    """Hex HMAC-SHA256 of each normalised 11-digit CPF (null stays null)."""
    # One C call (OpenSSL's one-shot HMAC) per value: Polars has no keyed hash to run in bulk.
    return pl.Series(
        "cpfHash",
        [
            None if cpf is None else hmac.digest(key, cpf.encode(), "sha256").hex()
            for cpf in cpfs.to_list()
        ],
        dtype=pl.String,
    )
