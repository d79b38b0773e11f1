"""Models for crawling (see the design; they land with their issue)."""
