"""The kernel every service imports: envelope, event store, relay, projection runner,
settings, logging and the operational HTTP surface. Each piece is written once, here."""
