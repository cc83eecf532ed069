"""A commune's inventory: its model, its validation, its vault of generated secrets."""
