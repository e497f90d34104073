"""The interest-shift forecast: a calibrated probability distribution over a user's interest
nodes for a stated horizon, the shift claims derived from it, and their track record."""
