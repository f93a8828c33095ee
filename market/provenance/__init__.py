"""Product provenance: GS1 identities, EPCIS 2.0 events, roles, custody and recalls.

Pure and deterministic like the rest of market/. ``identifiers`` holds the GS1 rules,
``vocab`` the CBV vocabulary, ``records`` and ``bodies`` the stored records and transaction
bodies, ``rules`` the handlers; ``PROVENANCE_KINDS`` is merged into ``market.MARKET_KINDS``.
"""
