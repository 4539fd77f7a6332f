"""``python -m trustgen``: the same command line as ``trustgen``."""

from .cli import main

if __name__ == "__main__":
    main()
