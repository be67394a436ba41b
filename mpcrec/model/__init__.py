"""The recommender: matrix factorisation, local training, federated averaging, metrics, baselines."""
