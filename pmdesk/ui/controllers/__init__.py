"""The window's feature controllers: what its actions do. Each is small and owns one feature.

shell (what they all share) · projects · runs · plans · settings · window (wiring only).
The composition root (``ui.app``) builds them; none builds another.
"""
