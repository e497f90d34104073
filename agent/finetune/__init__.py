"""LoRA adapters of the embedded model that ShiftRec trains on its own log (see DESIGN.md)."""
