"""The warehouse operations surface (001): `/api/inventory/...`, exactly as documented."""
