"""Data: loaders (MovieLens, generic files, PeerTube), partitioning, interaction tables."""
