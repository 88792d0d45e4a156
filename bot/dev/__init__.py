"""Development tooling, never imported by the runtime: the sandbox CRM, the playground, loopback servers."""
