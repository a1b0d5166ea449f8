"""``python -m vatti`` is the ``vatti`` command."""

from vatti.cli import main

if __name__ == "__main__":
    main()
