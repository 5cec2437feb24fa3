"""Dashboard analytics as data: the activity heatmap and guest conversion
(:mod:`autoaudit.web.analytics`)."""

from autoaudit.web.analytics import GuestConversion, Heatmap, guest_conversion, heatmap

__all__ = ["GuestConversion", "Heatmap", "guest_conversion", "heatmap"]
