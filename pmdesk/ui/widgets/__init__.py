"""Widgets: thin views over the item models."""
