"""Topic classification: the 42-category taxonomy, annotators, the fastText classifier, rebalancing."""
