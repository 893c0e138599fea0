"""lhdesk: a desktop console for Longhorn admins."""

__version__ = "0.1.0"
