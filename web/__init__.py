"""The explorer and shop pages every node serves at ``/`` on its API port.

Mounted by the process entry point (``python -m node`` loads :func:`web.mount.mount` as an
``agora.api_extensions`` entry point); node/ never imports this package. Pages render on the
server from the node's read side and are readable with JavaScript off; static/app.js (built
from frontend/) adds live updates over the node's event stream.
"""
