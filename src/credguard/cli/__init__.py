"""The command line: ``credguard <noun> <verb>``, one small module per noun."""
