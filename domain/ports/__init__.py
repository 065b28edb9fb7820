"""The ports: what the use cases need from the outside world, and their errors; adapters implement them."""
