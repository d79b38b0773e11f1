"""Models for subjects (see the design; they land with their issue)."""
