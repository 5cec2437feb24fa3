"""Who did it: the explicit actor and context scopes, the current request,
client IP, user agent, guest consent, and the actor columns of a log."""
