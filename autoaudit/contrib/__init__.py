"""Optional integrations with other packages (each needs that package)."""
