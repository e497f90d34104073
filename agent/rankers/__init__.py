"""Behaviour rankers trained on the event log: SASRec (network, training, sequences),
item-kNN co-occurrence, popularity, the bundle that serves them, the start-up tuning of
their fusion weights and the ranking metrics both use."""
