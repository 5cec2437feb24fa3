from django.apps import AppConfig


class PgsourceConfig(AppConfig):
    name = "tests.importers.pgsource"
    label = "pgsource"
    default_auto_field = "django.db.models.BigAutoField"
