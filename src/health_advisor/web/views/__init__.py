"""The pages, one module per audience: sign-in, coordinators' clients and plan builder,
professionals' review, the client's own plan, and administration."""
