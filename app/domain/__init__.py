"""Domain rules in plain functions: no Flask, no database, no clock."""
