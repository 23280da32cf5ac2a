"""cronwatch's version: a leaf, so that any module can name it without importing the package's
front door (``cronwatch/__init__.py`` imports the monitor, and through it storage)."""

__version__ = "0.1.0"
