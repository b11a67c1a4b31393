"""fleet-rag: ingest documents into ChromaDB and answer questions over them with sources."""

__version__ = "0.1.0"
