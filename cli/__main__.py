"""``python -m cli``: the same as the ``agora`` console script."""

from cli.main import main

main()
