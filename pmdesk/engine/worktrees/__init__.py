"""Git worktrees, one room a verb: checkout, integration, merge, inventory, diff, layout."""
