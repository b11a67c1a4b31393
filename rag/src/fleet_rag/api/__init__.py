"""fleet-rag's HTTP service: one router per protocol (health, Ollama, OpenAI, ingest), the shared
objects on app.state behind dependencies (api/deps.py)."""
