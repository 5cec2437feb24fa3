"""History tools: an object as it was at a moment (:mod:`.asof`), undoing
a logged change (:mod:`.revert`), rebuilt from the log table alone, and
what a logged change means in words (:mod:`.display`)."""
