"""E-mail notifications: an outbox table written in the same transaction as what the mail is
about, and delivery through SMTP that retries, never sends one queued mail twice at once, and
gives every mail a Message-ID fixed by its outbox row.
"""
