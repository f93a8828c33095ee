"""Agora consensus package."""
