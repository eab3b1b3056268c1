"""Fake Kubernetes API server internals; entry point: tests/fakes/kube_apiserver.py."""
