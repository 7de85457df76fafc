"""The document layer: graph, commands, layer specs, project files. No torch, no Qt."""
