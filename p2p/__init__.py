"""Agora p2p package."""
