"""The local HTTP API: the engine's third client, after the window and the CLI."""
