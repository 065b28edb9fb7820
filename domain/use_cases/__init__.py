"""The use cases: each takes its ports in its constructor and drives one capability."""
