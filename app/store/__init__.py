"""The inventory store: SQLModel tables, the engine, and schema migrations. No Textual here."""
