"""Ways into the service: the CLI, the HTTP API and the workers, wired by ``container``."""
