"""Agora node package."""
