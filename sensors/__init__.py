"""The gas-detector webhook: authenticate, store, evaluate, alarm."""
