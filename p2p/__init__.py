"""Agora's p2p layer: an HTTP gossip transport that moves opaque envelopes on channels.

Reactors implement :class:`Reactor` and register with :meth:`Switch.add_reactor`; the host
mounts the endpoints (:func:`add_p2p_routes` / :func:`create_p2p_app` / :func:`serve_p2p`)
and calls :meth:`Switch.start` with its listen URL.
"""

from p2p.config import P2PConfig
from p2p.errors import DialError, Rejection
from p2p.http import P2PServer, add_p2p_routes, create_p2p_app, create_p2p_subapp, p2p_routes, serve_p2p
from p2p.limits import Clock, SystemClock
from p2p.reactor import ChannelSpec, Network, PeerInfo, Reactor
from p2p.scoring import Severity
from p2p.switch import Switch

__all__ = [
    "ChannelSpec",
    "Clock",
    "DialError",
    "Network",
    "P2PConfig",
    "P2PServer",
    "PeerInfo",
    "Reactor",
    "Rejection",
    "Severity",
    "Switch",
    "SystemClock",
    "add_p2p_routes",
    "create_p2p_app",
    "create_p2p_subapp",
    "p2p_routes",
    "serve_p2p",
]
