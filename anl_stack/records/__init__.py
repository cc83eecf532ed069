"""What a plugin has shown: evidence, community reviews and the quality levels computed from them."""
