"""How a run is executed: the Claude Code CLI, the embedded agent on the Anthropic API, a command."""
