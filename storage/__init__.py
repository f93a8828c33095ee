"""Agora storage package."""
