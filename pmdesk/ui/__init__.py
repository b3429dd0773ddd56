"""The PySide6 window: one client of the engine. Qt lives only here."""
