from __future__ import annotations

from django.apps import AppConfig
from django.core.signals import setting_changed
from django.utils.translation import gettext_lazy as _


class AutoauditConfig(AppConfig):
    name = "autoaudit"
    verbose_name = _("Activity log")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from autoaudit import auth, checks, conf, registry

        # Bad settings fail django.setup() with a message naming the key.
        conf.clear_cache()
        conf.get_settings()
        checks.register()
        registry.registry.ready()
        auth.connect()  # login / logout / login_failed logs (AUTH_EVENTS)
        setting_changed.connect(_on_setting_changed, dispatch_uid="autoaudit.setting_changed")


def _on_setting_changed(*, setting: str, **kwargs: object) -> None:
    if setting in ("AUTOAUDIT", "SECRET_KEY"):
        from autoaudit import conf, registry

        conf.clear_cache()
        registry.registry.settings_changed()
