"""History tools: an object as it was at a moment (:mod:`.asof`), and undoing
a logged change (:mod:`.revert`), rebuilt from the log table alone."""
