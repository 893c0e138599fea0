"""Qt widgets, models and dialogs: the only package that imports PySide6."""
