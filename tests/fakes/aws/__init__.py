"""Internals of the fake AWS server (tests/fakes/aws_server.py)."""
