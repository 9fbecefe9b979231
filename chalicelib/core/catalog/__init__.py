"""The catalog: products, materials and their bills of materials, locations and bins."""
