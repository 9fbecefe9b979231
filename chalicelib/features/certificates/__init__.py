"""Certificate packs (003) and the mill certification documents they gather (000)."""
