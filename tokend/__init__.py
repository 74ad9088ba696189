"""tokend: per-account API tokens for Linux hosting servers, in the manner of cPanel's UAPI."""

__version__ = "0.1.0"
