"""The reliability suite: pmdesk tried as a crash and an attacker would, with every failure counted.

``python -m tests.reliability`` runs the bounded form (what the test command runs too) and
``python -m tests.reliability --full`` the full one; both print the table of counts.
"""
