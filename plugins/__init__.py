"""Built-in cgr plugins. Each module is an ordinary pluggy plugin, registered by module name."""
