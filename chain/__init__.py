"""The data model and deterministic state machine of Agora. No I/O happens here."""
