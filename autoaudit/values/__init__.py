"""Pure value helpers: serialisation, masking, diffs and descriptions.

Nothing here imports the rest of autoaudit, reads its settings (they come in
as arguments) or runs a query; ``labels`` looks models up in Django's app
registry and ``descriptions`` uses the active language.
"""
