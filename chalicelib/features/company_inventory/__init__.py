"""Company inventory (000): inventory items as stock records, tag rules, the inventory CSV import."""
