from django.apps import AppConfig


class SourceConfig(AppConfig):
    name = "tests.importers.source"
    label = "source"
    default_auto_field = "django.db.models.BigAutoField"
