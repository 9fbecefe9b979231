"""Stock: records, the append-only ledger, reservations and holds. Every quantity change goes through here."""
