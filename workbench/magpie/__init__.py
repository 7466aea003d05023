"""Stage 2, Magpie: pre-query templates, self-synthesis, filters, the magpie job."""
