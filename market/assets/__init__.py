"""Issued assets: created by an issuer, minted and burned, held and transferred like AGR."""
