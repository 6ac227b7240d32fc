"""Stand-ins for the networks on 127.0.0.1, for tests, the demo and the bench. The service never imports them."""
