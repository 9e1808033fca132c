"""Live events across instances: the in-process EventBus (services.bus) linked through Redis."""
