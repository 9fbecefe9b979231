"""History: the field-level change events of every entity, and the rules that name them."""
