"""The index core, below the `Index` coordinator: documents and embeddings in SQLite
(`store`), the FAISS file (`vectors`) and its copy in memory (`loaded_vectors`), the
manifest and its one writer (`manifest`, `state`, `locking`), filters, fusion and ranking
(`filters`, `fusion`, `search`), the write path (`writer`) and Parquet (`portable`)."""
