"""Internals of the fake HashiCorp Vault server (tests/fakes/vault_server.py)."""
