"""Client companies and users (roles admin, operator, analyst)."""
