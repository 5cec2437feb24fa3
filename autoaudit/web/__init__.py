"""What users see and what requests log: the timeline, the object history,
the guests' privacy pages, access rules, request events and the middleware."""
