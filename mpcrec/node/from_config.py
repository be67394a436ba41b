"""What a node's config names: its trainer and its connections to the launcher."""

from __future__ import annotations

from collections.abc import Callable

from mpcrec.federation.launcher_client import LauncherClient
from mpcrec.node.config import MovieLensTrainerConfig, NodeConfig, PeerTubeTrainerConfig
from mpcrec.node.trainer import DriftTrainer, Trainer


def trainer_from_config(config: NodeConfig) -> Trainer:
    """The trainer the config names."""
    trainer = config.trainer
    if isinstance(trainer, MovieLensTrainerConfig) and trainer.model == "dpals":
        from mpcrec.node.dpals_trainer import MovieLensDPALSTrainer

        return MovieLensDPALSTrainer.from_config(trainer, state_dir=config.state_dir)
    if isinstance(trainer, MovieLensTrainerConfig) and trainer.publish_every > 0:
        from mpcrec.node.movielens_catalogue import PublishingMovieLensTrainer

        return PublishingMovieLensTrainer.from_config(trainer, state_dir=config.state_dir)
    if isinstance(trainer, MovieLensTrainerConfig) and trainer.model == "seqrec":
        from mpcrec.node.seqrec_trainer import SeqrecTrainer

        return SeqrecTrainer.from_config(trainer, state_dir=config.state_dir)
    if isinstance(trainer, MovieLensTrainerConfig):
        from mpcrec.node.movielens_trainer import MovieLensTrainer

        return MovieLensTrainer.from_config(trainer, state_dir=config.state_dir)
    if isinstance(trainer, PeerTubeTrainerConfig) and trainer.model == "seqrec":
        from mpcrec.node.peertube_seqrec import PeerTubeSeqrecTrainer

        return PeerTubeSeqrecTrainer.from_config(config)
    if isinstance(trainer, PeerTubeTrainerConfig):
        from mpcrec.node.peertube_trainer import PeerTubeTrainer

        return PeerTubeTrainer.from_config(config)
    return DriftTrainer(
        config.instance_id, rate=trainer.rate, weight=trainer.weight, scale=trainer.scale
    )


def grpc_client(config: NodeConfig) -> Callable[[], LauncherClient]:
    """Connections to the launcher ``config`` names, over mutual TLS."""
    from mpcrec.node.grpc_client import GrpcLauncherClient

    return lambda: GrpcLauncherClient(config.launcher, config.tls)
