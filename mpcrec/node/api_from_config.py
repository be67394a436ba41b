"""The in-process recommendation API a node's config asks for (``peertube.listen``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mpcrec.node.config import NodeConfig

if TYPE_CHECKING:
    from mpcrec.node.http_api import ApiServer
    from mpcrec.node.recommender import Recommender


def in_process_api(config: NodeConfig) -> tuple[Recommender | None, ApiServer | None]:
    """The recommender and HTTP API to serve in process, or ``(None, None)``."""
    if not (config.serve_http and config.peertube is not None):
        return None, None
    from mpcrec.node.api_auth import load_secret
    from mpcrec.node.http_api import ApiServer
    from mpcrec.node.recommender import Recommender

    recommender, settings = Recommender(), config.peertube
    api = ApiServer(
        recommender,
        secret=load_secret(settings.api_secret_path),
        host=settings.listen_host,
        port=settings.listen_port,
    )
    return recommender, api
