"""Publishing: the engine that sends one post exactly once, the service, its signals and health."""
