"""Models for search (see the design; they land with their issue)."""
