"""From one user's snapshot to a short list: candidates from every source, z-score fusion,
the person's refinements, and MMR diversity with a per-topic cap."""
