"""Qt item models that adapt engine records for the views."""
