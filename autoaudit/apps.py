from __future__ import annotations

from importlib.util import find_spec

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AutoauditConfig(AppConfig):
    name = "autoaudit"
    verbose_name = _("Activity log")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from autoaudit import checks, conf
        from autoaudit.actors.scopes import on_disable
        from autoaudit.tracking import patches, selfaudit, signals
        from autoaudit.tracking.registry import registry, sync_accessors

        # Bad settings fail django.setup() with a message naming the key.
        conf.clear_cache()
        conf.get_settings()
        checks.register()
        patches.install_crum_storage()  # before the first request
        # The registry holds state only; receivers and patches follow it.
        registry.subscribe(signals.sync)
        registry.subscribe(patches.sync)
        registry.subscribe(sync_accessors)  # register(..., accessor=...)
        signals.connect_global()  # auth events, setting_changed
        if find_spec("celery") is not None:
            # The actor, context and request id follow Celery tasks.
            from autoaudit.contrib import celery

            celery.connect()
        registry.ready()
        # The audit of the audit log: switching logging off is logged.
        on_disable(selfaudit.log_switch_off)
        post_migrate.connect(
            selfaudit.record_settings_after_migrate,
            sender=self,
            dispatch_uid="autoaudit.selfaudit.settings",
        )
