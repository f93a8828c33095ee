"""Agora market package."""
