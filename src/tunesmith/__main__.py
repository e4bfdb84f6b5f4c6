"""Allow ``python -m tunesmith``."""

from tunesmith.cli import main

if __name__ == "__main__":
    main()
