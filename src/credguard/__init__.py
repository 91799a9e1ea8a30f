"""CredGuard: credit-risk scoring for Brazilian companies that sell on credit."""

__version__ = "0.1.0"
