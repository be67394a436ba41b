"""The instance daemon and its HTTP recommendation API."""
