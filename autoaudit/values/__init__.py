"""Pure value helpers: serialisation, masking, diffs and descriptions.

Nothing here imports the rest of autoaudit or touches the database; settings
come in as arguments.
"""
