"""``python -m chakushin.cli``: the ``chakushin`` command."""

from chakushin.cli import main

main()
