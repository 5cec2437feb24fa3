"""What happens to logs over time: selection, retention, forgetting, export,
archive and restore (the management commands' engines)."""
