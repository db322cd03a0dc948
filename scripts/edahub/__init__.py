"""edahub: the installer and settings package behind scripts/bootstrap.py."""

__version__ = "0.2.1"
