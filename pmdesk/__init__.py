"""pmdesk: a desktop runner for the Autonomous Loop (Inspect, Plan, Dispatch, Verify, Record)."""

__version__ = "0.1.0"
