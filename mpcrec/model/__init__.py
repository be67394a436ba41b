"""The recommender: matrix factorisation, local training, FedAvg, metrics, baselines."""
