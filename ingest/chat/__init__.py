"""The chat channel: HTTP service, embeddable widget, and the chat -> InboundMessage mapping."""
