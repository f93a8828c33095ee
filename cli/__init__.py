"""Agora cli package."""
