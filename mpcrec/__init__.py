"""mpcrec: privacy-preserving federated video recommendations for PeerTube."""

__version__ = "0.1.0"
