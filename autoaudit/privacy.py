"""Guest privacy: who has opted out (:mod:`autoaudit.actors.consent`) and the
opt-out views (:mod:`autoaudit.web.privacy`)."""

from autoaudit.actors.consent import guest_opted_out, opt_out_reason
from autoaudit.web.privacy import opt_in_view, opt_out_view, privacy_status_view

__all__ = [
    "guest_opted_out",
    "opt_in_view",
    "opt_out_reason",
    "opt_out_view",
    "privacy_status_view",
]
