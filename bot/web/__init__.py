"""HTTP: the Starlette app and its lifespan, the guard in front of Slack's endpoint, the uvicorn server."""
