"""Domain events: what the table stream says happened, as events a company can list and subscribe to."""
