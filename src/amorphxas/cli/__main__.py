"""``python -m amorphxas.cli``: the same as the ``amorphxas`` command."""

from amorphxas.cli import main

main()
