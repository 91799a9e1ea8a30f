"""Database: engine and session scope, declarative base, migrations, bulk writes."""
