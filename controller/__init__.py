"""treadguard controller: detection, the safety supervisor, the loop, configuration and the CLI."""
