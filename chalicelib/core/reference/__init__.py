"""Reference data (types, materials, organisations, certifications, tags, tag rules) and label lookups."""
